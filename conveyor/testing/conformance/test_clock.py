"""The clock seam (SPEC §1 ``clock=``): moving the app's clock moves every time decision,
in Python and in SQL, on every store — no sleeping."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from random import Random
from typing import Any

import pytest

from conveyor import ConfigurationError, Conveyor, Retry
from conveyor.stores.base import NewJob

from .helpers import ManualClock, NewApp, drain

START = datetime(2031, 5, 4, 12, 0, tzinfo=UTC)


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(START)


@pytest.fixture
def timed(new_app: NewApp, clock: ManualClock) -> Iterator[Conveyor]:
    application = new_app(lease=2, clock=clock)
    yield application
    application.close()


def test_a_delayed_job_runs_when_the_clock_reaches_it(
    timed: Conveyor, clock: ManualClock
) -> None:
    ran: list[int] = []

    @timed.job
    def later(n: int) -> None:
        ran.append(n)

    handle = later(1).run_in(3, "days")
    record = timed.get_job(handle.id)
    assert record is not None and record.run_at == START + timedelta(days=3)
    assert record.created_at == START
    drain(timed)
    assert ran == [] and handle.state == "scheduled"
    clock.advance(days=3)
    assert handle.state == "queued"
    drain(timed)
    assert ran == [1] and handle.state == "completed"
    finished = timed.get_job(handle.id)
    assert finished is not None and finished.finished_at == START + timedelta(days=3)


def test_a_retry_waits_on_the_clock(timed: Conveyor, clock: ManualClock) -> None:
    attempts: list[int] = []

    @timed.job(retry=Retry(retries=1, wait=3600))
    def flaky() -> None:
        attempts.append(1)
        if len(attempts) == 1:
            raise RuntimeError("first attempt fails")

    handle = flaky().run_now()
    drain(timed)
    assert len(attempts) == 1 and handle.state == "scheduled"
    clock.advance(minutes=59)
    drain(timed)
    assert len(attempts) == 1
    clock.advance(minutes=2)
    drain(timed)
    assert len(attempts) == 2 and handle.state == "completed"


def test_an_expired_lease_is_rescued_when_the_clock_passes_it(
    timed: Conveyor, clock: ManualClock
) -> None:
    (job_id,) = timed.store.insert([NewJob(job="task")])
    (claimed,) = timed.store.claim("stalled-worker", None, 1, 60.0)
    assert claimed.started_at == START.timestamp()
    assert timed.store.rescue() == 0
    clock.advance(seconds=61)
    assert timed.store.rescue() == 1
    record = timed.get_job(job_id)
    assert record is not None and record.state == "queued"


def test_a_durable_wait_resumes_when_the_clock_passes_it(
    timed: Conveyor, clock: ManualClock
) -> None:
    steps: list[str] = []

    @timed.job
    async def onboarding(payload: Any, io: Any) -> str:
        await io.wait("cool-off", 3, "days")
        steps.append("after")
        return "done"

    handle = onboarding({"id": 1}).run_now()
    drain(timed)
    assert handle.state == "waiting" and steps == []
    clock.advance(days=2)
    drain(timed)
    assert handle.state == "waiting"
    clock.advance(days=1, seconds=1)
    drain(timed)
    assert steps == ["after"] and handle.state == "completed"


def test_a_sleeping_durable_run_counts_the_attempt_it_started(
    timed: Conveyor, clock: ManualClock
) -> None:
    @timed.job
    async def nap(io: Any) -> int:
        await io.wait("nap", 1, "hour")
        return 1

    handle = nap().run_now()
    drain(timed)
    record = timed.get_job(handle.id)
    assert record is not None and record.state == "waiting"
    assert (record.attempts, [a.number for a in record.history]) == (1, [1])
    assert record.history[0].finished_at is None
    clock.advance(hours=1, seconds=1)
    drain(timed)
    record = timed.get_job(handle.id)
    assert record is not None and record.state == "completed"
    assert (record.attempts, [a.number for a in record.history]) == (1, [1])


def test_a_schedule_fires_on_the_clock(timed: Conveyor, clock: ManualClock) -> None:
    ran: list[datetime] = []

    @timed.job(trigger=timed.every("1 hour"))
    def hourly() -> None:
        ran.append(clock.now())

    drain(timed)
    (nxt,) = [r for r in timed.jobs_list(job="hourly") if r.state == "scheduled"]
    assert nxt.run_at == START + timedelta(hours=1)
    clock.advance(hours=1)
    drain(timed)
    assert ran == [START + timedelta(hours=1)]
    assert [r.run_at for r in timed.jobs_list(job="hourly") if r.state == "scheduled"] == [
        START + timedelta(hours=2)
    ]


def test_a_clock_without_now_is_refused(new_app: NewApp) -> None:
    with pytest.raises(ConfigurationError, match="invalid clock 42"):
        new_app(clock=42)


def test_a_naive_clock_is_refused_when_read(new_app: NewApp) -> None:
    app = new_app(clock=ManualClock(datetime(2031, 1, 1)))

    @app.job
    def ping() -> None: ...

    with pytest.raises(ConfigurationError, match="must return an aware datetime"):
        ping().run_in(1, "hour")
    app.close()


def test_events_sent_at_one_instant_keep_the_order_they_were_sent_in(
    timed: Conveyor, clock: ManualClock
) -> None:
    """The clock stands still: every event has the same sent_at (and deliver_at). They
    list newest first by order of sending, not by id, and are delivered in that order."""
    ids = [f"event-{n:02d}" for n in Random(7).sample(range(40), 40)]

    @timed.job(trigger=timed.event("tick"))
    def on_tick(payload: Any) -> Any:
        return payload

    for n, event_id in enumerate(ids[:20]):
        timed.send_event("tick" if n % 2 else "tock", n, id=event_id)
    later = START + timedelta(hours=1)
    for n, event_id in enumerate(ids[20:], 20):
        timed.send_event("tick", n, id=event_id, deliver_at=later)
    assert [e.id for e in timed.events_list(limit=40)] == ids[::-1]
    pages = [timed.events_list(limit=7, offset=at) for at in range(0, 40, 7)]
    assert [e.id for page in pages for e in page] == ids[::-1]
    assert [e.payload for e in timed.events_list("tock")] == list(range(18, -1, -2))
    clock.advance(hours=1)
    drain(timed)
    delivered = [timed.get_event(event_id) for event_id in ids[20:]]
    runs = [run for event in delivered if event is not None for run in event.runs]
    assert len(runs) == 20 and runs == sorted(runs)  # started in the order sent
    assert [timed.get_job(run).result for run in runs] == list(range(20, 40))  # type: ignore[union-attr]
