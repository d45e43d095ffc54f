"""A FakeClock moved while a real worker runs: the worker looks at once (SPEC §12)."""

from __future__ import annotations

import time
from datetime import UTC, datetime

from conveyor import Conveyor
from conveyor.testing import FakeClock
from conveyor.testing.conformance.helpers import wait_for, worker_thread


def test_moving_a_fake_clock_wakes_a_running_worker(app: Conveyor) -> None:
    ran: list[str] = []

    @app.job
    def remind(who: str) -> None:
        ran.append(who)

    with FakeClock(app, start=datetime(2030, 3, 1, 9, tzinfo=UTC)) as clock:
        remind("ada").run_in(1, "day")
        # A long poll interval: without a wake-up the idle worker would look only after
        # 10 s (50 s while it watches for changes), since nothing was stored as time moved.
        with worker_thread(app, poll_interval=10.0, maintenance_interval=10.0):
            time.sleep(0.3)  # idle, waiting
            assert ran == []
            clock.advance(1, "day")
            started = time.monotonic()
            wait_for(lambda: ran == ["ada"], timeout=10)
            assert time.monotonic() - started < 5
