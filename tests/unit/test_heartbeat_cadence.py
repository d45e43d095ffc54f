"""The heartbeat cadence: slow heartbeats do not push the next one back, a missed slot
re-anchors the cadence and is reported as lateness."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from conveyor.worker.cadence import Cadence


def test_a_slow_heartbeat_does_not_delay_the_next_one() -> None:
    cadence = Cadence(1.0)
    assert cadence.start(100.0) == 0.0
    assert cadence.wait(100.4) == pytest.approx(0.6)  # a 0.4 s beat: next at 101
    assert cadence.start(101.0) == 0.0
    assert cadence.wait(101.9) == pytest.approx(0.1)


def test_an_overrun_starts_the_next_at_once_and_a_missed_slot_re_anchors() -> None:
    cadence = Cadence(1.0)
    cadence.start(0.0)
    assert cadence.wait(1.3) == 0.0  # the beat overran its slot: the next at once
    assert cadence.start(1.3) == pytest.approx(0.3)
    assert cadence.wait(1.5) == pytest.approx(0.5)  # still on the original cadence (2.0)
    assert cadence.start(4.5) == 2.5  # the loop was blocked: slots 3 and 4 missed
    assert cadence.wait(4.5) == pytest.approx(1.0)  # re-anchored: next at 5.5


@given(st.floats(0.05, 30), st.lists(st.floats(0, 100), min_size=1, max_size=30))
def test_the_next_beat_is_due_at_most_one_interval_after_a_start(
    interval: float, durations: list[float]
) -> None:
    cadence, now = Cadence(interval), 0.0
    for took in durations:
        started = now
        cadence.start(started)
        now += took
        wait = cadence.wait(now)
        assert wait >= 0.0
        assert now + wait <= max(now, started + interval) + 1e-6
        now += wait
