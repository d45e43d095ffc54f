"""Awaited triggers while another process holds the SQLite write lock: the event loop
keeps serving other tasks, and every trigger is stored once the lock is released."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import textwrap
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from conveyor import Conveyor
from conveyor.errors import StoreBusy
from conveyor.stores.sqlite import connection

N = 1000
TICKS = 200  # ticker wake-ups before it lets go of the lock
PATIENCE = 30.0  # seconds the holder keeps the lock unless asked to let go


def hold_write_lock(path: Path, seconds: float) -> subprocess.Popen[str]:
    """A process holding ``BEGIN IMMEDIATE`` on ``path`` for ``seconds``, or until a line
    on its stdin asks it to let go; its stdout says ``held``, then (after COMMIT) the
    wall-clock time it let go and ``asked`` or ``patience`` (why it let go)."""
    holder = subprocess.Popen(
        [sys.executable, "-c", textwrap.dedent(f"""
            import select, sqlite3, sys, time
            conn = sqlite3.connect({str(path)!r}, isolation_level=None)
            conn.execute("BEGIN IMMEDIATE")
            print("held", flush=True)
            asked, _, _ = select.select([sys.stdin], [], [], {seconds})
            conn.execute("COMMIT")
            print(time.time(), "asked" if asked else "patience", flush=True)
        """)],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
    )
    assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
    return holder


def let_go(holder: subprocess.Popen[str]) -> None:
    """Ask a ``hold_write_lock`` process to let go now."""
    assert holder.stdin is not None
    holder.stdin.write("go\n")
    holder.stdin.flush()


async def triggers_with_ticker(
    app: Conveyor, release: Callable[[], None],
) -> tuple[list[Any], list[float]]:
    """N awaited triggers (asyncio.gather) beside a 1 ms ticker, which calls ``release``
    once it has woken TICKS times while the triggers were under way; the wall-clock times
    it woke."""
    job = app.jobs["noop"]
    ticks: list[float] = []
    stop = asyncio.Event()

    async def ticker() -> None:
        while not stop.is_set():
            await asyncio.sleep(0.001)
            ticks.append(time.time())
            if len(ticks) == TICKS:
                release()

    async def trigger(i: int) -> Any:
        return await job(i).run_now()

    tick = asyncio.create_task(ticker())
    await asyncio.sleep(0.01)
    ticks.clear()
    handles = await asyncio.gather(*(trigger(i) for i in range(N)))
    stop.set()
    await tick
    return handles, ticks


def test_awaited_triggers_wait_for_the_lock_off_the_event_loop(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(connection, "BUSY_TIMEOUT", 0.5)  # retried several times in 2 s
    path = tmp_path / "locked.db"
    app = Conveyor(f"sqlite:///{path}")

    @app.job
    async def noop(i: int) -> None: ...

    holder = hold_write_lock(path, PATIENCE)
    try:
        handles, ticks = asyncio.run(triggers_with_ticker(app, lambda: let_go(holder)))
        stored_at = time.time()
        assert holder.stdout is not None
        released_at, why = holder.stdout.readline().split()
    finally:
        holder.kill()
        holder.wait()
    assert stored_at >= float(released_at)  # they waited for the lock, then were stored
    assert len({h.id for h in handles}) == N
    assert app.count() == N
    # The loop kept serving the ticker while the lock was held, so the ticker let it go
    # after TICKS wake-ups. A trigger waiting for the lock on the loop (0.5 s busy waits)
    # would leave the ticker a wake-up now and then: about 100 s for TICKS, and the
    # holder would give up first, at its patience.
    assert why == "asked", f"the ticker woke {len(ticks)} times in {PATIENCE} s"
    app.close()


def test_a_trigger_gives_up_with_a_clear_error_after_its_patience(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(connection, "BUSY_TIMEOUT", 0.05)
    path = tmp_path / "locked.db"
    app = Conveyor(f"sqlite:///{path}")

    @app.job
    def noop() -> None: ...

    holder = hold_write_lock(path, 60)
    try:
        with pytest.raises(StoreBusy, match=r"locked by another process \(still locked after "
                                            r"[\d.]+ s of retries; nothing was written\)"):
            noop().run_now()
    finally:
        holder.kill()
        holder.wait()
    app.close()


def test_a_worker_waiting_for_the_lock_says_so_once_and_keeps_its_job(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture,
) -> None:
    monkeypatch.setattr(connection, "BUSY_TIMEOUT", 0.25)  # several lock waits in the 1 s hold
    path = tmp_path / "locked.db"
    app = Conveyor(f"sqlite:///{path}", lease=3.0)

    @app.job
    def noop() -> None: ...

    handle = noop().run_now()
    holder = hold_write_lock(path, 1.0)
    try:
        with caplog.at_level("WARNING", logger="conveyor"):
            app.run_worker(burst=True, concurrency=1)
    finally:
        holder.kill()
        holder.wait()
    waits = [r for r in caplog.records if "waiting for the SQLite write lock" in r.getMessage()]
    assert waits, caplog.text
    # Once per waiting store call (claim, heartbeat, upkeep...), not once per retry.
    assert len(waits) <= 4, caplog.text
    record = app.get_job(handle.id)
    assert record is not None and record.state == "completed" and record.attempts == 1
    app.close()
