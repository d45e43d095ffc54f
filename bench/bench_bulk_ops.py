"""Bulk operations over many stored jobs: python bench/bench_bulk_ops.py [--url URL]
[--jobs 10000,100000] [--fan-out 5000] (0 or an empty --jobs skips that part).

For each N, stores N jobs in mixed states (40% queued, 20% scheduled, 20% completed, 10%
failed, 10% cancelled; 4 job types, 2 queues, payloads {"shop": i % 10}), VACUUM ANALYZE
on PostgreSQL, then times, one after the other on that data:
  count and jobs_list with filters (state, job, queue, data), cancel_jobs by data, by type,
  by state, then every pending job; purge by job, then every finished job; the CLI's
  ``conveyor cancel ID...`` and ``conveyor retry ID...`` (the bulk forms a user has for
  retrying), and cancel_jobs() with a ``cancelled`` hook registered (hooks hear every job).
Then a dependency fan-out (one head, F jobs each depends_on=[head]), without and with a
``cancelled`` hook: app.cancel(head) (its dependents cancelled with it), app.retry(head)
(reopens them) and cancel_jobs(type=...) matching the F blocked dependents.
Prints µs per matched job (per call for reads, which return at most 100 rows).
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
import types
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

from bench.bench import store_of, vacuum  # noqa: E402
from conveyor import Conveyor  # noqa: E402

TYPES = ("alpha", "beta", "gamma", "delta")
CLI_IDS = 2_000  # ids given to one `conveyor cancel|retry` call


def make_app(url: str) -> Conveyor:
    app = Conveyor(url)
    for name in TYPES:
        app.job(name)(lambda payload: None)
    return app


def load(app: Conveyor, n: int) -> None:
    """N jobs in mixed states, stored in bulk and then finished in place with SQL."""
    jobs = app.jobs
    scheduled = time.time() + 86_400
    calls = [(i, jobs[TYPES[i % 4]]({"shop": i % 10})) for i in range(n)]
    for queue in ("default", "mail"):
        for future in (False, True):
            part = [c for i, c in calls if (i % 2 == 0) == (queue == "default")
                    and ((i % 10) in (4, 5)) == future]
            for start in range(0, len(part), 20_000):
                app.enqueue_many(part[start:start + 20_000], queue=queue,
                                 run_at=datetime.fromtimestamp(scheduled, UTC) if future
                                 else None)
    # ids in storing order; by i % 10 of the id: 6, 7 completed, 8 failed, 9 cancelled
    with app.store.d.writing() as conn:  # type: ignore[attr-defined]
        now = time.time()
        for state, rest in (("completed", "(6, 7)"), ("failed", "(8)"), ("cancelled", "(9)")):
            conn.execute(
                f"UPDATE conveyor_jobs SET state = '{state}', attempts = 1, started_at = {now},"
                f" finished_at = {now}, purge_at = {now + 86_400 * 7} WHERE id % 10 IN {rest}"
                " AND run_at <= created_at + 1")
    vacuum(app)


def timed(label: str, fn: Callable[[], Any], per: Callable[[Any], int] | None = None) -> None:
    t = time.perf_counter()
    result = fn()
    seconds = time.perf_counter() - t
    count = per(result) if per else (result if isinstance(result, int) else len(result))
    unit = f"{seconds / count * 1e6:9.1f} µs/job" if count and per is None else \
        f"{seconds * 1e6:9.0f} µs/call"
    print(f"  {label:<40} {count:>8} {seconds * 1000:9.1f} ms {unit}", flush=True)


def cli(app: Conveyor, url: str, verb: str, ids: list[int]) -> int:
    """``conveyor VERB ID...`` in this process (the same code as the command line)."""
    from click.testing import CliRunner

    from conveyor.cli import main as cli_main

    module = "bench_bulk_app"
    sys.modules[module] = types.ModuleType(module)
    sys.modules[module].app = make_app(url)  # type: ignore[attr-defined]  # the CLI closes it
    result = CliRunner().invoke(cli_main, [verb, "--app", f"{module}:app", "--url", url,
                                           *map(str, ids)],
                                env={"CONVEYOR_APP": f"{module}:app"})
    if result.exit_code != 0:
        raise SystemExit(f"conveyor {verb}: {result.output}")
    return len(ids)


def run(url: str, n: int) -> None:
    print(f"{store_of(url)}, {n:,} jobs", flush=True)
    app = make_app(url)
    app.purge(state=["completed", "failed", "cancelled"])
    app.cancel_jobs(state=["scheduled", "queued"])
    app.purge(state=["cancelled"])
    load(app, n)
    for label, filters in (("count state=queued", {"state": "queued"}),
                           ("count job=alpha", {"job": "alpha"}),
                           ("count queue=mail state=failed", {"queue": "mail", "state": "failed"}),
                           ("count data={shop: 3}", {"data": {"shop": 3}})):
        timed(label, lambda f=filters: app.count(**f), per=lambda _: 1)
    for label, filters in (("jobs_list state=failed", {"state": "failed"}),
                           ("jobs_list job=beta queue=mail", {"job": "beta", "queue": "mail"}),
                           ("jobs_list data={shop: 3}", {"data": {"shop": 3}}),
                           ("jobs_list text=shop", {"text": "shop"})):
        timed(label, lambda f=filters: app.jobs_list(limit=100, **f), per=lambda _: 1)
    timed("cancel_jobs data={shop: 1}", lambda: app.cancel_jobs(data={"shop": 1}))
    timed("cancel_jobs type=beta", lambda: app.cancel_jobs(type="beta"))
    timed("cancel_jobs state=scheduled", lambda: app.cancel_jobs(state="scheduled"))
    timed("cancel_jobs (all pending)", lambda: app.cancel_jobs())
    failed = [r.id for r in app.jobs_list(state="failed", limit=CLI_IDS)]
    timed("cli retry ID... (failed)", lambda: cli(app, url, "retry", failed))
    timed("cli cancel ID... (retried)", lambda: cli(app, url, "cancel", failed))
    timed("purge job=alpha", lambda: app.purge(job="alpha"))
    timed("purge (all finished)", lambda: app.purge(state=["completed", "failed", "cancelled"]))
    load(app, n)
    heard: list[int] = []
    app.on("cancelled")(lambda record: heard.append(record.id))
    pending = app.count(state=["scheduled", "queued"])
    timed("cancel_jobs with a cancelled hook", lambda: app.cancel_jobs())
    assert len(heard) == pending, (len(heard), pending)
    app.purge(state=["completed", "failed", "cancelled"])
    app.close()


def fan_out(url: str, n: int, hooked: bool) -> None:
    """Cancel, retry and cancel_jobs over one head and its ``n`` dependents."""
    print(f"{store_of(url)}, fan-out of {n:,}{' (cancelled hook)' if hooked else ''}",
          flush=True)
    app = make_app(url)
    app.cancel_jobs()
    app.purge(state=["completed", "failed", "cancelled"])
    heard: list[int] = []
    if hooked:
        app.on("cancelled")(lambda record: heard.append(record.id))
    head = app.jobs.alpha({}).run_now()
    rows = [app.triggering.new_job(app.jobs.beta({"i": i})) for i in range(n)]
    for row in rows:  # stored in one insert, not one run_now(depends_on=) each
        row.depends_on = [head.id]
    app.triggering.insert(rows)
    vacuum(app)
    timed("cancel(head)", lambda: app.cancel(head.id) and n + 1)
    timed("retry(head) (reopens its dependents)", lambda: app.retry(head.id) and n)
    assert app.count(state="blocked") == n
    timed("cancel_jobs type=beta (blocked)", lambda: app.cancel_jobs(type="beta"))
    assert len(heard) == (2 * n + 1 if hooked else 0), len(heard)
    app.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--url", help="store URL (default: a fresh SQLite file)")
    parser.add_argument("--jobs", default="10000,100000", help="comma-separated job counts")
    parser.add_argument("--fan-out", type=int, default=5_000,
                        help="dependents of the one head (0: skip)")
    args = parser.parse_args()
    url = args.url or f"sqlite:///{tempfile.mkdtemp(prefix='conveyor-bench-')}/bulk.db"
    os.environ["CONVEYOR_URL"] = url
    for n in (int(x) for x in args.jobs.split(",") if x):
        run(url, n)
    for hooked in (False, True) if args.fan_out else ():
        fan_out(url, args.fan_out, hooked)
    print(f"load average: {os.getloadavg()[0]:.1f}")

if __name__ == "__main__":
    main()
