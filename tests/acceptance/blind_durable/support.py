"""Helpers of the blind acceptance tests of SPEC §5 and §10."""

from __future__ import annotations

import os
import signal
import textwrap
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from conveyor import Conveyor, JobFailed, JobHandle, JobRecord, Retry
from tests.process.helpers import spawn_worker, stop, wait_until

START = datetime(2032, 2, 29, 12, 0, tzinfo=UTC)  # a leap day


def rec(app: Conveyor, handle: JobHandle | int) -> JobRecord:
    found = app.get_job(handle.id if isinstance(handle, JobHandle) else handle)
    assert found is not None
    return found


def error_of(app: Conveyor, handle: JobHandle | int) -> str:
    error = rec(app, handle).error
    assert error is not None
    get = error.get if isinstance(error, dict) else lambda k: getattr(error, k, None)
    return f"{get('type')}: {get('message')}"


def child_ids(record: JobRecord) -> list[int]:
    return [c if isinstance(c, int) else c.id for c in record.children]


CRASH_APP = textwrap.dedent('''
    import os, time
    from pathlib import Path
    from conveyor import Conveyor, Retry

    app = Conveyor(os.environ["CONVEYOR_URL"], lease=float(os.environ["CONVEYOR_TEST_LEASE"]))
    LEDGER = Path(os.environ["BLIND_LEDGER"])

    def note(word):
        with LEDGER.open("a") as f:
            f.write(word + "\\n")

    def hang():
        while True:
            time.sleep(0.05)

    def first(x):
        note("first")
        return x + 1

    def second(x):
        note("second")
        hang()

    @app.job("crashy", retry=Retry(retries=3, wait=0))
    async def crashy(payload, io):
        a = await io.task("first-ü", first, payload["n"])
        b = await io.task("second", second, a)
        return [a, b]

    @app.job("kid", retry=Retry(retries=3, wait=0))
    def kid(n):
        note("kid")
        hang()

    @app.job("parent", retry=Retry(retries=3, wait=0))
    async def parent(io):
        return await io.run_job("kid", kid(5))
''')


def _ledger(path: Path) -> list[str]:
    return path.read_text().split() if path.exists() else []


def _kill_mid_run(url: str, tmp_path: Path, word: str) -> Path:
    """Start a worker on the crash app, wait until it is inside ``word``, kill -9 it. (A
    burst worker started next waits for the dead worker's lease to expire, then runs it.)"""
    app_file = tmp_path / "crash_app.py"
    app_file.write_text(CRASH_APP)
    ledger = tmp_path / "blind-ledger"
    worker = spawn_worker(url, tmp_path, lease=1.0, app_file=app_file, concurrency=2,
                          env={"BLIND_LEDGER": str(ledger)})
    try:
        wait_until(lambda: word in _ledger(ledger), 60, f"the worker reaching {word}", tmp_path)
    finally:
        os.kill(worker.pid, signal.SIGKILL)
        stop(worker)
    return ledger


def _define_crash_jobs(app: Conveyor, ledger: Path) -> tuple[Any, Any]:
    def note(word: str) -> None:
        with ledger.open("a") as f:
            f.write(word + "\n")

    def first(x: int) -> int:
        note("first")
        return x + 1

    def second(x: int) -> str:
        note("second")
        return f"second got {x}"

    @app.job("crashy", retry=Retry(retries=3, wait=0))
    async def crashy(payload: Any, io: Any) -> Any:
        a = await io.task("first-ü", first, payload["n"])
        b = await io.task("second", second, a)
        return [a, b]

    @app.job("kid", retry=Retry(retries=3, wait=0))
    def kid(n: int) -> int:
        note("kid")
        return n * 2

    @app.job("parent", retry=Retry(retries=3, wait=0))
    async def parent(io: Any) -> Any:
        return await io.run_job("kid", kid(5))

    return crashy, parent


MANY_APP = textwrap.dedent('''
    import os
    from pathlib import Path
    from conveyor import Conveyor, Retry

    app = Conveyor(os.environ["CONVEYOR_URL"], lease=float(os.environ["CONVEYOR_TEST_LEASE"]))
    LEDGER = Path(os.environ["BLIND_LEDGER"])

    def note(word):
        with open(f"{LEDGER}.{os.getpid()}", "a") as f:
            f.write(word + "\\n")
        return word

    @app.job("multi", retry=Retry(retries=5, wait=0))
    async def multi(n, io):
        a = await io.task("a", note, f"a{n}")
        await io.wait("w", 0.05, "seconds")
        b = await io.task("b", note, f"b{n}")
        return [a, b]
''')


def three_levels(app: Conveyor, *, top_catches: bool = False) -> Any:
    """Jobs ``top`` -> child run ``middle`` -> child run ``leaf`` (returns 1); ``top``
    returns the state of a failed ``middle`` if ``top_catches``. Returns ``top``."""
    @app.job
    def leaf() -> int:
        return 1

    @app.job
    async def middle(io: Any) -> Any:
        return await io.run_job("leaf", leaf())

    @app.job
    async def top(io: Any) -> Any:
        if not top_catches:
            return await io.run_job("middle", middle())
        try:
            return await io.run_job("middle", middle())
        except JobFailed as exc:
            return exc.state

    return top
