"""The app the process tests run in worker processes (``python -c`` or ``conveyor worker``).

Every execution appends ``start``/``end`` lines to a per-process ledger file
(``$CONVEYOR_TEST_LEDGER.<pid>``) so a test can prove which jobs ran, how often, in
which process and whether two executions of one job overlapped.
"""

from __future__ import annotations

import asyncio
import os
import signal
import time
from typing import Any

from conveyor import Conveyor


def note(event: str, job_id: int, attempt: int) -> None:
    """Append one ledger line with a single write (atomic for small appends)."""
    base = os.environ.get("CONVEYOR_TEST_LEDGER")
    if not base:
        return
    line = f"{event} {job_id} {attempt} {os.getpid()} {time.time():.6f}\n".encode()
    fd = os.open(f"{base}.{os.getpid()}", os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        os.write(fd, line)
    finally:
        os.close(fd)


def run_noted(meta: Any, seconds: float = 0.0) -> None:
    """A sync job's attempt on the ledger: ``start``, ``seconds`` of work (a sleep), ``end``."""
    note("start", meta.id, meta.attempt)
    if seconds:
        time.sleep(seconds)
    note("end", meta.id, meta.attempt)


def linger(default: float = 0.0) -> float:
    """Seconds a lingering job sleeps: ``$CONVEYOR_TEST_LINGER``, else ``default``."""
    return float(os.environ.get("CONVEYOR_TEST_LINGER", default))


def build(url: str, lease: float | None = None) -> Conveyor:
    """The test app on ``url`` with its jobs defined."""
    app = Conveyor(url, lease=lease or float(os.environ.get("CONVEYOR_TEST_LEASE", "2")))

    @app.job
    def quick(n: int, meta: Any) -> int:
        run_noted(meta)
        return n

    @app.job
    def sleepy(seconds: float, meta: Any) -> float:
        run_noted(meta, seconds)
        return seconds

    @app.job
    async def lingering(meta: Any) -> str:
        """Sleeps $CONVEYOR_TEST_LINGER seconds (a worker started with a small value
        finishes what a worker with a large one was stopped in the middle of)."""
        note("start", meta.id, meta.attempt)
        await asyncio.sleep(linger(60))
        note("end", meta.id, meta.attempt)
        return "lingered"

    @app.job
    def first_attempt_lingers(meta: Any) -> int:
        """Lingers a minute on its first attempt, then returns its attempt at once."""
        run_noted(meta, 60 if meta.attempt == 1 else 0.05)
        return int(meta.attempt)

    @app.job(isolation="process")
    def isolated_lingering(meta: Any) -> str:
        """:func:`lingering` in a child process of the worker (``isolation="process"``)."""
        run_noted(meta, linger(60))
        return "lingered"

    @app.job
    def kills_its_worker(meta: Any) -> None:
        note("start", meta.id, meta.attempt)
        os.kill(os.getpid(), signal.SIGKILL)

    def lingering_reaction(job: Any) -> None:
        """A Reaction-style sync worker sleeping $CONVEYOR_TEST_LINGER seconds."""
        note("start", int(job.id), 1)
        time.sleep(linger(60))
        note("end", int(job.id), 1)
        job.done("lingered")

    app.add_worker(type="lingering-reaction", worker=lingering_reaction)
    return app


app = build(os.environ["CONVEYOR_URL"]) if os.environ.get("CONVEYOR_URL") else None
