"""The side-by-side harness of issue 14, one command:

    python bench/peers/run.py [--jobs 10000] [--runs 3] [--systems huey,dramatiq,...]

Each system runs the same workload: N jobs, 2 worker processes at the system's default
worker flags with concurrency 10, each job a sync function doing one Redis round trip
to 127.0.0.1:6379 (bench/peers/work.py). Reported per system, median of ``--runs``
rounds (systems interleaved in each round): enqueue/s one at a time, bulk enqueue/s
(where the system has it), processed/s, latency from enqueue to start p50/p95 (idle
workers, one job every 4 ms) and the workers' CPU µs per job. See drive.py for how
each figure is taken.

Every system, conveyor included, runs on one interpreter: a virtual environment of its
own (``bench/.venv-peers``, made and filled from requirements.txt on first use; or
``--python``), never conveyor's. conveyor comes from this checkout. Needs Redis on
127.0.0.1:6379 and PostgreSQL (``--pg``, databases peers_conveyor and
peers_procrastinate are dropped and made again on each run).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import venv
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
NAMES = ("conveyor-sqlite", "conveyor-postgres", "huey", "dramatiq", "procrastinate", "rq",
         "arq", "celery")
COLUMNS = (("enqueue", "enqueue/s", "{:,.0f}"), ("bulk", "bulk/s", "{:,.0f}"),
           ("processed", "processed/s", "{:,.0f}"), ("p50", "p50 ms", "{:.1f}"),
           ("p95", "p95 ms", "{:.1f}"), ("cpu_us", "CPU µs/job", "{:,.0f}"))


def interpreter(path: Path) -> Path:
    """The peers' Python, making the environment first if it is missing."""
    python = path / "bin" / "python"
    if not python.exists():
        print(f"making {path} (peers and conveyor's runtime dependencies)", file=sys.stderr)
        venv.create(path, with_pip=True)
        pip = [str(python), "-m", "pip", "install", "-q"]
        subprocess.run([*pip, "-r", str(HERE / "requirements.txt")], check=True)
        # Celery's Redis transport needs redis-py >= 6.1; arq declares < 6 but runs on it.
        subprocess.run([*pip, "redis>=6.1"], check=True)
    return python


def loadavg() -> str:
    with open("/proc/loadavg") as f:
        return " ".join(f.read().split()[:3])


def median(rows: list[dict[str, float | None]], key: str) -> float | None:
    values = [r[key] for r in rows if r.get(key) is not None]
    return statistics.median(values) if values else None  # type: ignore[type-var]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--jobs", type=int, default=10_000)
    parser.add_argument("--latency-jobs", type=int, default=500)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--systems", default=",".join(NAMES),
                        help=f"comma-separated, from {', '.join(NAMES)}")
    parser.add_argument("--pg", default="postgresql://postgres@127.0.0.1:5432",
                        help="PostgreSQL server (without a database name)")
    parser.add_argument("--python", help="the peers' interpreter (default: bench/.venv-peers)")
    parser.add_argument("--out", help="also write every run as JSON lines here")
    args = parser.parse_args()
    chosen = [s.strip() for s in args.systems.split(",") if s.strip()]
    unknown = set(chosen) - set(NAMES)
    if unknown:
        parser.error(f"unknown systems: {', '.join(sorted(unknown))}")
    python = Path(args.python) if args.python else interpreter(ROOT / "bench" / ".venv-peers")
    tmp = tempfile.mkdtemp(prefix="conveyor-peers-")
    print(f"load average at start: {loadavg()} ({os.cpu_count()} cores); logs in {tmp}",
          file=sys.stderr)
    runs: dict[str, list[dict[str, float | None]]] = {name: [] for name in chosen}
    for round_ in range(args.runs):
        for name in chosen:
            cmd = [str(python), str(HERE / "drive.py"), name, "--jobs", str(args.jobs),
                   "--latency-jobs", str(args.latency_jobs),
                   "--sqlite-url", f"sqlite:///{tmp}/{name}-{round_}.db",
                   "--pg-url", f"{args.pg}/peers_conveyor",
                   "--procrastinate-url", f"{args.pg}/peers_procrastinate",
                   "--log", f"{tmp}/{name}.log"]
            done = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True,
                                  env=dict(os.environ, PYTHONPATH=str(ROOT)))
            if done.returncode != 0:
                print(f"{name} (round {round_ + 1}) failed:\n{done.stderr[-2000:]}",
                      file=sys.stderr)
                continue
            row = json.loads(done.stdout.strip().splitlines()[-1])
            runs[name].append(row)
            print(f"round {round_ + 1} {name}: " + ", ".join(
                f"{label} {fmt.format(row[key])}" for key, label, fmt in COLUMNS
                if row.get(key) is not None) + f" (load {loadavg()})", file=sys.stderr)
            if args.out:
                with open(args.out, "a") as f:
                    f.write(json.dumps(dict(row, round=round_ + 1, load=loadavg())) + "\n")
    print(f"\n{args.jobs:,} jobs, 2 worker processes each, median of {args.runs}; "
          f"load average at the end: {loadavg()}\n")
    print("| system | " + " | ".join(label for _, label, _ in COLUMNS) + " |")
    print("|---|" + "---|" * len(COLUMNS))
    medians: dict[str, dict[str, float | None]] = {}
    for name in chosen:
        if not runs[name]:
            continue
        medians[name] = {key: median(runs[name], key) for key, _, _ in COLUMNS}
        cells = ["–" if medians[name][key] is None else fmt.format(medians[name][key])
                 for key, _, fmt in COLUMNS]
        print(f"| {runs[name][0]['system']} | " + " | ".join(cells) + " |")
    ratios(medians)


def ratios(medians: dict[str, dict[str, float | None]]) -> None:
    """The issue's bar: conveyor on SQLite vs the fastest Redis peer, on PostgreSQL vs
    Procrastinate (processed/s)."""
    def rate(name: str) -> float | None:
        return medians.get(name, {}).get("processed")

    redis_peers = [(rate(n), n) for n in ("huey", "dramatiq") if rate(n)]
    lines = []
    sqlite, pg, procrastinate = rate("conveyor-sqlite"), rate("conveyor-postgres"), rate(
        "procrastinate")
    if sqlite and redis_peers:
        best, name = max(redis_peers)
        lines.append(f"conveyor SQLite / fastest Redis peer ({name}): {sqlite / best:.2f}x")
    if pg and procrastinate:
        lines.append(f"conveyor PostgreSQL / Procrastinate: {pg / procrastinate:.2f}x")
    if lines:
        print("\n" + "\n".join(lines))


if __name__ == "__main__":
    main()
