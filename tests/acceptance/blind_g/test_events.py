"""SPEC §5 events: odd names and payloads, ids sent twice, several waiters, triggers."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from conveyor import Conveyor
from tests.acceptance.blind_g.support import START, rec, settle, typed
from tests.conformance.helpers import ManualClock, drain


def test_odd_event_names_start_only_the_job_triggered_by_that_exact_name(app: Conveyor) -> None:
    names = ["ünï.事件", "user.*", "user", "a b\tc", "x" * 3000, "USER.CREATED"]
    started: dict[str, list[Any]] = {}

    for i, name in enumerate(names):
        @app.job(f"on-{i}", trigger=app.event(name))
        def on(payload: Any, name: str = name) -> str:
            started.setdefault(name, []).append(payload)
            return name

    for name in [*names, "user.created", "ünï", "x" * 2999]:
        app.send_event(name, {"sent": name[:8]})
    drain(app)
    assert started == {name: [{"sent": name[:8]}] for name in names}


def test_every_kind_of_payload_reaches_the_triggered_job_as_its_one_argument(
        app: Conveyor) -> None:
    @app.job(trigger=app.event("anything"))
    def echo(payload: Any) -> Any:
        return payload

    payloads: list[Any] = [None, 0, "", [], {}, [1, "a", None], 10**30, 1e308, -0.5, False,
                           {"nested": {"deep": [{"x": "ß"}]}}]
    events = [app.send_event("anything", p) for p in payloads]
    drain(app)
    results = [rec(app, event.runs[0]).result for event in events]
    assert all(len(event.runs) == 1 for event in events)
    assert typed(results) == typed(payloads)


def test_an_id_sent_again_with_another_payload_keeps_the_first_event(app: Conveyor) -> None:
    @app.job(trigger=app.event("order.paid"))
    def on_paid(payload: Any) -> Any:
        return payload

    first = app.send_event("order.paid", {"n": 1}, id="order-1 ü")
    again = app.send_event("order.paid", {"n": 2}, id="order-1 ü")
    other_name = app.send_event("order.refunded", {"n": 3}, id="order-1 ü")
    drain(app)
    assert again.id == first.id and again.payload == {"n": 1} and again.runs == first.runs
    assert other_name.payload == {"n": 1} and other_name.runs == first.runs
    assert [rec(app, r).result for r in first.runs] == [{"n": 1}]
    assert app.count(job="on_paid") == 1


def test_one_event_wakes_only_the_waiters_whose_filter_matches(app: Conveyor) -> None:
    @app.job
    async def waiter(wanted: Any, io: Any) -> Any:
        got = await io.wait_for_event("await-ü", "parcel.moved", filter=wanted)
        return None if got is None else [got["name"], got["payload"], got["id"]]

    filters = [{"city": ["Köln"]}, {"city": ["Paris"]}, None, {"at": {"zip": ["50667"]}},
               {"tags": ["fragile"]}]
    handles = [waiter(f).run_now() for f in filters]
    drain(app)
    assert app.count(state="waiting") == len(filters)
    event = app.send_event("parcel.moved", {"city": "Köln", "at": {"zip": "50667"},
                                            "tags": ["big", "fragile"]}, id="move-1")
    drain(app)
    woken = [rec(app, h).result for h in handles]
    expected = ["parcel.moved", event.payload, "move-1"]
    assert woken == [expected, None, expected, expected, expected]
    assert rec(app, handles[1]).state == "waiting"


def test_a_waiter_whose_timeout_ends_first_gets_none_and_others_keep_waiting(
        capp: Conveyor, clock: ManualClock) -> None:
    @capp.job
    async def patient(seconds: float, io: Any) -> Any:
        got = await io.wait_for_event("w", "late.bus", timeout=seconds)
        return "timed out" if got is None else got["payload"]

    short, long = patient(60).run_now(), patient(timedelta(hours=1).total_seconds()).run_now()
    settle(capp, clock, seconds=61)
    assert short.result(timeout=30) == "timed out"
    assert rec(capp, long).state == "waiting"
    capp.send_event("late.bus", "here")
    drain(capp)
    assert long.result(timeout=30) == "here"
    assert short.result(timeout=30) == "timed out"


def test_an_event_triggered_run_knows_its_event_and_can_sleep(capp: Conveyor,
                                                              clock: ManualClock) -> None:
    @capp.job(trigger=capp.event("user.created", filter={"plan": ["pro"]}))
    async def welcome(payload: Any, io: Any, ctx: Any) -> Any:
        await io.wait("cool-off", 3, "days")
        return [payload["id"], ctx.trigger]

    capp.send_event("user.created", {"id": 1, "plan": "free"}, id="u1")
    pro = capp.send_event("user.created", {"id": 2, "plan": "pro"}, id="u2")
    settle(capp, clock, days=3)
    assert capp.count(job="welcome") == 1
    assert rec(capp, pro.runs[0]).result == [
        2, {"type": "event", "event_id": "u2", "event_name": "user.created"}]


def test_send_event_from_a_run_happens_once_across_replays(capp: Conveyor,
                                                           clock: ManualClock) -> None:
    @capp.job(trigger=capp.event("ping ü"))
    def pong(payload: Any) -> Any:
        return payload

    @capp.job
    async def pinger(io: Any) -> Any:
        sent = await io.send_event("ping", "ping ü", {"n": [1, 2]})
        await io.wait("nap", 1, "second")
        return sent

    h = pinger().run_now()
    settle(capp, clock, seconds=1)
    event_id = h.result(timeout=30)
    event = capp.get_event(event_id)
    assert event is not None and event.name == "ping ü" and event.payload == {"n": [1, 2]}
    assert [rec(capp, r).result for r in event.runs] == [{"n": [1, 2]}]
    assert capp.count(job="pong") == 1


def test_events_delivered_later_start_runs_and_wake_waiters_only_when_due(
        capp: Conveyor, clock: ManualClock) -> None:
    @capp.job(trigger=capp.event("later"))
    def on_later(payload: Any) -> Any:
        return payload

    @capp.job
    async def sender(io: Any) -> Any:
        return await io.send_event("s", "later", {"x": 1}, deliver_in=3600)

    @capp.job
    async def waiter(io: Any) -> Any:
        return (await io.wait_for_event("w", "later", timeout=7200))["payload"]

    w = waiter().run_now()
    sender().run_now()
    settle(capp, clock, minutes=59)
    assert rec(capp, w).state == "waiting" and capp.count(job="on_later") == 0
    settle(capp, clock, minutes=1)
    assert w.result(timeout=30) == {"x": 1} and capp.count(job="on_later") == 1
    event = capp.send_event("later", 2, deliver_at=START + timedelta(days=2))
    assert event.delivered_at is None and event.runs == []
    settle(capp, clock, days=2)
    delivered = capp.get_event(event.id)
    assert delivered is not None and delivered.delivered_at is not None
    assert [rec(capp, r).result for r in delivered.runs] == [2]


def test_a_name_with_nul_or_a_lone_surrogate_is_sanitised_alike_on_both_sides(
        app: Conveyor) -> None:
    @app.job(trigger=app.event("a\x00b\ud800"))
    def odd(payload: Any) -> Any:
        return payload

    event = app.send_event("a\x00b\ud800", [1])
    drain(app)
    assert event.name == "a\ufffdb\ufffd"
    assert [rec(app, r).result for r in event.runs] == [[1]]
