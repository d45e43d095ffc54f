"""Blind acceptance tests of SPEC §5: long waits under a FakeClock, and events; every
store."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from conveyor import Conveyor
from conveyor.testing import FakeClock, run_until_idle
from tests.acceptance.blind_durable.support import (
    START,
    rec,
)
from tests.conformance.helpers import ManualClock, drain


def test_a_year_long_wait_from_a_leap_day_is_a_calendar_step(app: Conveyor) -> None:
    @app.job
    async def yearly(io: Any) -> str:
        await io.wait("year", 1, "year")
        return "anniversary"

    with FakeClock(app, start=START) as fake:
        h = yearly().run_now()
        run_until_idle(app, clock=fake)
        fake.move_to(datetime(2033, 2, 28, 11, 59, tzinfo=UTC))
        run_until_idle(app, clock=fake)
        assert rec(app, h).state == "waiting"
        fake.advance(1, "minute")
        run_until_idle(app, clock=fake)
        assert rec(app, h).state == "completed"
    assert h.result(timeout=30) == "anniversary"


def test_fractional_and_tiny_waits_resume_in_order(app: Conveyor) -> None:
    @app.job
    async def flow(io: Any) -> list[str]:
        await io.wait("half-second", 0.5, "seconds")
        await io.wait("ms", 1, "millisecond")
        await io.wait("weeks", 1.5, "weeks")
        return ["done"]

    with FakeClock(app, start=START) as fake:
        h = flow().run_now()
        run_until_idle(app, clock=fake)
        fake.advance(1, "second")
        run_until_idle(app, clock=fake)
        assert rec(app, h).state == "waiting"
        fake.advance(10, "days")
        run_until_idle(app, clock=fake)
        assert rec(app, h).state == "waiting"  # the 1.5 weeks count from when it was reached
        fake.advance(10.4, "days")
        run_until_idle(app, clock=fake)
        assert rec(app, h).state == "waiting"
        fake.advance(0.1, "days")
        run_until_idle(app, clock=fake)
    assert h.result(timeout=30) == ["done"]


def test_wait_for_event_wakes_on_a_matching_event_after_the_wait(capp: Conveyor) -> None:
    @capp.job
    async def flow(order: int, io: Any) -> Any:
        got = await io.wait_for_event("paid", "order.paid", filter={"order": [order]})
        return got["payload"]

    h = flow(7).run_now()
    drain(capp)
    assert rec(capp, h).state == "waiting"
    capp.send_event("order.paid", {"order": 8, "note": "other"})
    capp.send_event("order.päid", {"order": 7})
    drain(capp)
    assert rec(capp, h).state == "waiting"
    capp.send_event("order.paid", {"order": 7, "note": "✓"}, id="pay-7")
    drain(capp)
    assert h.result(timeout=30) == {"order": 7, "note": "✓"}


def test_an_event_sent_before_the_wait_wakes_it_once_at_most(capp: Conveyor) -> None:
    @capp.job
    async def flow(io: Any) -> Any:
        got = await io.wait_for_event("ev", "early.bird")
        return got["id"]

    capp.send_event("early.bird", {"n": 1}, id="early")
    h = flow().run_now()
    drain(capp)
    if rec(capp, h).state == "waiting":
        capp.send_event("early.bird", {"n": 2}, id="late")
        drain(capp)
        assert h.result(timeout=30) == "late"
    else:
        assert h.result(timeout=30) == "early"


def test_wait_for_event_times_out_with_none_and_a_late_event_changes_nothing(
        capp: Conveyor, clock: ManualClock) -> None:
    @capp.job
    async def flow(io: Any) -> Any:
        got = await io.wait_for_event("ev", "maybe.later", timeout="2 hours")
        await io.wait("after", 1, "hour")
        return got

    h = flow().run_now()
    drain(capp)
    clock.advance(hours=2, seconds=1)
    drain(capp)
    capp.send_event("maybe.later", {"too": "late"})
    clock.advance(hours=1)
    drain(capp)
    assert h.result(timeout=30) is None


def test_one_event_wakes_every_waiting_run_and_starts_triggered_ones(capp: Conveyor) -> None:
    started: list[Any] = []

    @capp.job
    async def waiter(n: int, io: Any) -> Any:
        got = await io.wait_for_event("e", "fan.out", filter={"kind": [{"prefix": "gö"}]})
        return [n, got["payload"]["kind"]]

    @capp.job("triggered", trigger=capp.event("fan.out", filter={"kind": ["göod"]}))
    async def triggered(payload: Any, io: Any, ctx: Any) -> None:
        started.append(ctx.trigger)

    handles = [waiter(n).run_now() for n in range(3)]
    drain(capp)
    capp.send_event("fan.out", {"kind": "göod"}, id="fan-1")
    capp.send_event("fan.out", {"kind": "göod"}, id="fan-1")
    drain(capp)
    assert [h.result(timeout=30) for h in handles] == [[n, "göod"] for n in range(3)]
    assert len(started) == 1 and started[0]["event_id"] == "fan-1"


def test_io_send_event_starts_triggered_runs_and_wakes_waiters(capp: Conveyor,
                                                               clock: ManualClock) -> None:
    got: list[Any] = []

    @capp.job("listener", trigger=capp.event("ping.🏓"))
    async def listener(payload: Any, io: Any) -> None:
        got.append(payload)

    @capp.job
    async def waiter(io: Any) -> Any:
        return (await io.wait_for_event("w", "ping.🏓"))["payload"]

    @capp.job
    async def sender(io: Any) -> str:
        await io.wait("first", 1, "minute")
        return str(await io.send_event("send", "ping.🏓", {"from": "sender"}))

    w = waiter().run_now()
    s = sender().run_now()
    drain(capp)
    clock.advance(minutes=1)
    drain(capp)
    assert w.result(timeout=30) == {"from": "sender"}
    assert got == [{"from": "sender"}]
    sent_id = s.result(timeout=30)
    assert str(s.id) in sent_id


def test_an_event_triggered_durable_run_waits_and_resumes(capp: Conveyor,
                                                          clock: ManualClock) -> None:
    @capp.job("welcome", trigger=capp.event("user.created", filter={"plan": ["pro"]}))
    async def welcome(payload: Any, io: Any) -> str:
        name = await io.task("load", lambda: payload["name"].upper())
        await io.wait("cool-off", 3, "days")
        return f"hi {name}"

    capp.send_event("user.created", {"plan": "pro", "name": "zoë"}, id="u-1")
    drain(capp)
    [run] = capp.jobs_list(job="welcome")
    assert run.state == "waiting"
    capp.send_event("user.created", {"plan": "pro", "name": "zoë"}, id="u-1")
    clock.advance(days=3)
    drain(capp)
    [run] = capp.jobs_list(job="welcome")
    assert run.state == "completed" and run.result == "hi ZOË"
