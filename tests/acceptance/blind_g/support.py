"""Helpers of the second-pass blind acceptance tests of SPEC §5, §10, §11 and §12."""

from __future__ import annotations

import os
import signal
import textwrap
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from conveyor import Conveyor, Retry
from tests.acceptance.blind_durable.support import error_of, rec
from tests.conformance.helpers import ManualClock, drain
from tests.process.helpers import spawn_worker, stop, wait_until

__all__ = ["CRASH_APP", "START", "crash_jobs", "error_of", "kill_inside_middle", "rec",
           "settle", "typed", "words"]

START = datetime(2033, 12, 31, 23, 59, 30, tzinfo=UTC)  # a year's last half minute


def settle(app: Conveyor, clock: ManualClock | None = None, **advance: float) -> None:
    """Run what is due, then (with ``advance``) move ``clock`` and run what became due."""
    drain(app)
    if clock is not None and advance:
        clock.advance(**advance)
        drain(app)


def typed(value: Any) -> Any:
    """``value`` with the Python type of every number and container spelled out, so that
    ``1 == 1.0 == True`` cannot hide a changed type."""
    if isinstance(value, dict):
        return {k: typed(v) for k, v in value.items()}
    if isinstance(value, list):
        return [typed(v) for v in value]
    return (type(value).__name__, repr(value))


#: The worker process's app of the crash tests: ``middle`` hangs (so the test can kill the
#: worker inside it); every job notes its name in the ledger ``$BLIND_LEDGER`` first.
CRASH_APP = textwrap.dedent('''
    import os, time
    from pathlib import Path
    from conveyor import Conveyor, Retry

    app = Conveyor(os.environ["CONVEYOR_URL"], lease=float(os.environ["CONVEYOR_TEST_LEASE"]))

    def note(word):
        with Path(os.environ["BLIND_LEDGER"]).open("a") as f:
            f.write(word + "\\n")

    @app.job("first", retry=Retry(retries=2, wait=0))
    def first(x):
        note("first")
        return x + 1

    @app.job("middle", retry=Retry(retries=2, wait=0))
    def middle(x):
        note("middle")
        while True:
            time.sleep(0.05)

    @app.job("fanned", retry=Retry(retries=2, wait=0))
    async def fanned(n, io):
        note("fanned")
        return await io.run_jobs("kids", [first(i) for i in range(n)] + [middle(n)])
''')


def crash_jobs(app: Conveyor, ledger: Path) -> tuple[Any, Any, Any]:
    """The crash app's jobs (by the same ids) for the test's own worker, where ``middle``
    returns ``x * 10`` instead of hanging."""
    def note(word: str) -> None:
        with ledger.open("a") as f:
            f.write(word + "\n")

    @app.job("first", retry=Retry(retries=2, wait=0))
    def first(x: int) -> int:
        note("first")
        return x + 1

    @app.job("middle", retry=Retry(retries=2, wait=0))
    def middle(x: int) -> int:
        note("middle")
        return x * 10

    @app.job("fanned", retry=Retry(retries=2, wait=0))
    async def fanned(n: int, io: Any) -> Any:
        note("fanned")
        return await io.run_jobs("kids", [first(i) for i in range(n)] + [middle(n)])

    return first, middle, fanned


def kill_inside_middle(url: str, tmp_path: Path, ledger: Path,
                       settled: Callable[[], bool] = lambda: True) -> None:
    """Run a worker process on the crash app until it is inside ``middle`` and
    ``settled()`` holds, and kill it -9 (a burst worker started next waits for its lease,
    1 s, to expire, then runs its job).

    ``settled`` lets a test wait until jobs that finished beside ``middle`` are stored as
    completed: a job that finished but whose outcome was not yet stored when its worker
    died is run again, as it must be."""
    app_file = tmp_path / "blind_g_crash_app.py"
    app_file.write_text(CRASH_APP)
    worker = spawn_worker(url, tmp_path, lease=1.0, app_file=app_file, concurrency=4,
                          env={"BLIND_LEDGER": str(ledger)})
    try:
        wait_until(lambda: "middle" in words(ledger) and settled(), 60,
                   "the worker inside middle", tmp_path)
    finally:
        os.kill(worker.pid, signal.SIGKILL)
        stop(worker)


def words(ledger: Path) -> list[str]:
    return ledger.read_text().split() if ledger.exists() else []
