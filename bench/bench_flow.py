"""What flow control costs: python bench/bench_flow.py [--url URL] [--jobs N] [--concurrency C].

The defaults are the bar's setting: 2 workers at the worker's default flags (concurrency
10), 10,000 jobs.

No-op jobs processed end to end (W workers started idle, then N jobs stored in bulk, time
until the last is completed) for a job without limits in a store where no flow rule is in
force at all (``plain``: the plain claim), a job without limits next to limited ones
(``unlimited``: every claim of the store is a limited claim once any rule is in force), with
``concurrency=50`` and with ``rate="1000000/second"`` (far above what is achieved). Each
kind runs ``--rounds`` times, alternating; the median round is reported (the machine is
shared), with the workers' CPU per job and, on PostgreSQL, the transactions committed per
job. The plain store is a second SQLite file, or the schema ``bench_flow_plain``. When the
workers may hold more than 50 jobs (3 x concurrency each, with those claimed ahead), a last
row runs the plain store with 50 in flight capped by the workers themselves instead.
"""

from __future__ import annotations

import argparse
import signal
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.bench import cpu_seconds, stop, transactions, vacuum
from bench.fleet import fleet_parser, fleet_url, spawn_workers
from conveyor import Conveyor

KINDS = ("plain", "unlimited", "limited", "rated")
LABELS = {"plain": "no rule in force (plain claim)", "unlimited": "no limit, rules in force",
          "limited": "concurrency=50", "rated": "rate=1000000/second"}
Rounds = dict[str, list[tuple[float, float, float | None]]]  # kind -> (jobs/s, CPU us, tx)


def main() -> None:
    parser = fleet_parser(__doc__, jobs=10_000, concurrency=10)  # the worker's defaults
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--profile", metavar="PREFIX",
                        help="py-spy: PREFIX-<kind>.txt, collapsed stacks of the first worker")
    args = parser.parse_args()
    url = fleet_url(args, "flow.db")
    from bench.flow_app import app

    plain_url = _plain_url(url)
    plain = Conveyor(plain_url)
    plain.job(unlimited)
    apps = {"plain": plain, **{k: app for k in KINDS[1:]}}
    rounds: Rounds = {}
    flow = spawn_workers("flow_app.py", args.workers, args.concurrency)
    fleets = {"plain": _plain_fleet(args, args.concurrency, plain_url),
              **{k: flow for k in KINDS[1:]}}
    run(apps, fleets, args, KINDS, rounds, "")
    if args.workers * 3 * args.concurrency > 50:
        # A worker holds up to 3 x its concurrency (2 x claimed ahead): the limit can bind.
        # The same 50 attempts in flight, capped by the workers' own concurrency instead
        # (none claimed ahead): what a cap of 50 costs a no-op job whatever enforces it.
        fleets = {"plain": _plain_fleet(args, 50 // args.workers, plain_url, ahead=0)}
        run(apps, fleets, args, ("plain",), rounds, " (50 in flight)")
    median = {k: statistics.median(r[0] for r in v) for k, v in rounds.items()}
    base = median["plain"]
    print(f"store={url.split('://', 1)[0]} jobs={args.jobs} workers={args.workers} "
          f"concurrency={args.concurrency} rounds={args.rounds} (median; %: of the plain "
          "claim's; CPU: workers' user+sys per job; tx: transactions committed per job)")
    labels = {**LABELS, "plain (50 in flight)": f"plain, {50 // args.workers} per worker, "
                                               "none ahead"}
    for key, label in labels.items():
        if key not in rounds:
            continue
        cpu = statistics.median(r[1] for r in rounds[key])
        txs = [r[2] for r in rounds[key] if r[2] is not None]
        tx = f"  {statistics.median(txs):5.2f} tx/job" if txs else ""
        print(f"{label:34} {median[key]:>9,.0f} jobs/s  {median[key] / base:6.1%}  "
              f"{cpu:6.0f} us CPU/job{tx}   (rounds: "
              + ", ".join(f"{r[0]:,.0f}" for r in rounds[key]) + ")")


async def unlimited() -> None:
    """The plain store's job without limits."""


def _plain_url(url: str) -> str:
    """The store of the ``plain`` kind: plain.db next to the SQLite file, or a schema."""
    if url.startswith("sqlite:///"):
        return "sqlite:///" + str(Path(url.removeprefix("sqlite:///")).with_name("plain.db"))
    return url + ("&" if "?" in url else "?") + "schema=bench_flow_plain"


def _plain_fleet(args: argparse.Namespace, concurrency: int, url: str,
                 ahead: int | None = None) -> list[subprocess.Popen[bytes]]:
    extra = {} if ahead is None else {"BENCH_PREFETCH": str(ahead)}
    return spawn_workers("flow_app.py", args.workers, concurrency, CONVEYOR_URL=url,
                         BENCH_FLOW_PLAIN="1", **extra)


def run(apps: dict[str, Any], fleets: dict[str, list[subprocess.Popen[bytes]]],
        args: argparse.Namespace, kinds: tuple[str, ...], rounds: Rounds, suffix: str
        ) -> None:
    """``args.rounds`` rounds of ``kinds``, each on its fleet of idle workers (stopped
    here)."""
    try:
        time.sleep(3.0)  # started, schema migrated, limits stored, idle
        for app in {id(a): a for a in apps.values()}.values():
            app.purge(state=["completed", "failed", "cancelled"])
            vacuum(app)
        for _ in range(args.rounds):
            for kind in kinds:
                app, workers = apps[kind], fleets[kind]
                spy = _spy(args.profile, kind + suffix, workers[0].pid)
                name = "unlimited" if kind == "plain" else kind
                cpu0, tx0 = cpu_seconds(workers), transactions(app)
                t = time.perf_counter()
                app.enqueue_many([app.jobs[name]() for _ in range(args.jobs)])
                while app.count(state="completed", job=name) < args.jobs:
                    time.sleep(0.02)
                rate = args.jobs / (time.perf_counter() - t)
                cpu = (cpu_seconds(workers) - cpu0) / args.jobs * 1e6
                tx1 = transactions(app)
                tx = (tx1 - tx0) / args.jobs if tx0 is not None and tx1 is not None else None
                rounds.setdefault(kind + suffix, []).append((rate, cpu, tx))
                if spy is not None:
                    spy.send_signal(signal.SIGINT)
                    spy.wait(60)
                app.purge(state=["completed"])
                vacuum(app)  # PostgreSQL: the next round starts without these dead rows
    finally:
        for workers in {id(w): w for w in fleets.values()}.values():
            stop(workers)


def _spy(prefix: str | None, kind: str, pid: int) -> subprocess.Popen[bytes] | None:
    if not prefix:
        return None
    name = kind.replace(" ", "_").replace("(", "").replace(")", "")
    spy = subprocess.Popen(["py-spy", "record", "--nonblocking", "-r", "200", "-f", "raw",
                            "-o", f"{prefix}-{name}.txt", "--pid", str(pid)],
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    time.sleep(1.0)
    return spy


if __name__ == "__main__":
    main()
