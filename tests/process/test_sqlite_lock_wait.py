"""Awaited triggers while another process holds the SQLite write lock: the event loop
keeps serving other tasks, and every trigger is stored once the lock is released."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import textwrap
import time
from pathlib import Path
from typing import Any

import pytest

from conveyor import Conveyor
from conveyor.errors import StoreBusy
from conveyor.stores.sqlite import connection

N = 1000
HOLD = 2.0


def hold_write_lock(path: Path, seconds: float) -> subprocess.Popen[str]:
    """A process holding ``BEGIN IMMEDIATE`` on ``path`` for ``seconds``; its stdout says
    ``held``, then (after COMMIT) the wall-clock time it let go."""
    holder = subprocess.Popen(
        [sys.executable, "-c", textwrap.dedent(f"""
            import sqlite3, time
            conn = sqlite3.connect({str(path)!r}, isolation_level=None)
            conn.execute("BEGIN IMMEDIATE")
            print("held", flush=True)
            time.sleep({seconds})
            conn.execute("COMMIT")
            print(time.time(), flush=True)
        """)],
        stdout=subprocess.PIPE, text=True,
    )
    assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
    return holder


async def triggers_with_ticker(app: Conveyor) -> tuple[list[Any], list[float]]:
    """N awaited triggers (asyncio.gather) beside a 1 ms ticker; the wall-clock times
    the ticker woke up while the triggers were under way."""
    job = app.jobs["noop"]
    ticks: list[float] = []
    stop = asyncio.Event()

    async def ticker() -> None:
        while not stop.is_set():
            await asyncio.sleep(0.001)
            ticks.append(time.time())

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

    holder = hold_write_lock(path, HOLD)
    try:
        handles, ticks = asyncio.run(triggers_with_ticker(app))
        stored_at = time.time()
        assert holder.stdout is not None
        released_at = float(holder.stdout.readline())
    finally:
        holder.kill()
        holder.wait()
    assert stored_at >= released_at  # they waited for the lock, and then were stored
    assert len({h.id for h in handles}) == N
    assert app.count() == N
    # The loop kept serving the ticker while the lock was held: a trigger waiting for the
    # lock on the loop (0.5 s busy waits for the 2 s) would leave it a handful of wake-ups;
    # a free loop has hundreds, and dozens even on a loaded CI machine (no timing bound).
    held = [t for t in ticks if t <= released_at]
    assert len(held) >= 20, f"the event loop woke {len(held)} times while the lock was held"
    print(f"ticker woke {len(held)} times while the lock was held")
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
