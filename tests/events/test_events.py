"""Events on every store: triggers, filters, once per id, waits woken by events, delays."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from conveyor import ConfigurationError, Conveyor, PayloadError
from conveyor.testing import FakeClock
from tests.durable.helpers import finish, settle
from tests.support import overwrite


def test_an_event_starts_a_run_of_each_matching_trigger_with_its_payload(app: Conveyor) -> None:
    @app.job("send-welcome", trigger=app.event("user.created", filter={"plan": ["pro"]}))
    async def send_welcome(payload: dict[str, Any], io: Any, ctx: Any) -> dict[str, Any]:
        return {"got": payload, "trigger": ctx.trigger}

    @app.job(trigger=app.event("user.created"))
    def audit(payload: dict[str, Any]) -> str:
        return f"audit {payload['id']}"

    sent = app.send_event("user.created", {"id": 7, "plan": "pro"}, id="evt-1")
    assert sent.id == "evt-1" and len(sent.runs) == 2
    app.run_worker(burst=True)
    welcome, audited = (app.get_job(i) for i in sent.runs)
    assert welcome is not None and audited is not None
    assert welcome.result == {
        "got": {"id": 7, "plan": "pro"},
        "trigger": {"type": "event", "event_id": "evt-1", "event_name": "user.created"},
    }
    assert audited.result == "audit 7"
    assert welcome.event_id == audited.event_id == "evt-1"


def test_an_event_that_does_not_match_the_filter_starts_nothing(app: Conveyor) -> None:
    @app.job(trigger=app.event("user.created", filter={"plan": ["pro"]}))
    async def pro_only(payload: Any, io: Any) -> None: ...

    assert app.send_event("user.created", {"plan": "free"}).runs == []
    assert app.send_event("user.deleted", {"plan": "pro"}).runs == []
    assert app.count() == 0


def test_sending_the_same_event_id_twice_starts_its_runs_once(app: Conveyor) -> None:
    @app.job(trigger=app.event("order.paid"))
    def ship(payload: Any) -> None: ...

    first = app.send_event("order.paid", {"order": 1}, id="pay-1")
    again = app.send_event("order.paid", {"order": 1}, id="pay-1")
    assert first.runs == again.runs and len(first.runs) == 1
    assert app.count(job="ship") == 1


def test_events_list_shows_events_newest_first_with_their_runs(app: Conveyor) -> None:
    @app.job(trigger=app.event("a"))
    def on_a(payload: Any) -> None: ...

    app.send_event("a", {"n": 1}, id="e1")
    app.send_event("b", {"n": 2}, id="e2")
    listed = app.events_list()
    assert [e.id for e in listed] == ["e2", "e1"]
    assert listed[1].payload == {"n": 1} and len(listed[1].runs) == 1
    assert listed[0].runs == []
    assert [e.id for e in app.events_list("a")] == ["e1"]
    found = app.get_event("e1")
    assert found is not None and found.delivered_at is not None
    assert app.get_event("nope") is None


def test_wait_for_event_wakes_the_run_when_a_matching_event_arrives(app: Conveyor) -> None:
    @app.job
    async def approval(payload: dict[str, Any], io: Any) -> Any:
        event = await io.wait_for_event(
            "approved", "doc.approved", filter={"doc": [payload["doc"]]}
        )
        return event["payload"]

    handle = approval({"doc": 42}).run_now()
    assert settle(app, handle).state == "waiting"
    app.send_event("doc.approved", {"doc": 41, "by": "x"})  # another document: ignored
    assert settle(app, handle).state == "waiting"
    app.send_event("doc.approved", {"doc": 42, "by": "ann"})
    record = finish(app, handle)
    assert (record.state, record.result) == ("completed", {"doc": 42, "by": "ann"})
    assert record.attempts == 1


def test_wait_for_event_returns_none_after_its_timeout(app: Conveyor) -> None:
    @app.job
    async def impatient(payload: Any, io: Any) -> str:
        event = await io.wait_for_event("reply", "reply.sent", timeout=0.2)
        return "timed out" if event is None else "replied"

    handle = impatient(None).run_now()
    record = finish(app, handle)
    assert record.result == "timed out"
    app.send_event("reply.sent", {})  # too late: the run has moved on
    assert app.get_job(handle.id).result == "timed out"  # type: ignore[union-attr]


def test_a_delayed_event_is_delivered_by_maintenance_when_due(app: Conveyor) -> None:
    @app.job(trigger=app.event("later"))
    def on_later(payload: Any) -> Any:
        return payload

    with FakeClock(app, start=datetime(2030, 1, 1, tzinfo=UTC), patch_python=False) as clock:
        sent = app.send_event("later", {"x": 1}, deliver_at=clock.now() + timedelta(seconds=0.3))
        assert sent.runs == [] and sent.delivered_at is None
        app.run_worker(burst=True)
        assert app.count(job="on_later") == 0
        clock.advance(0.35)
        app.run_worker(burst=True)  # maintenance delivers it, then the run is due
    (event,) = app.events_list()
    assert event.delivered_at is not None and len(event.runs) == 1
    assert app.get_job(event.runs[0]).result == {"x": 1}  # type: ignore[union-attr]


def test_io_send_event_sends_once_per_run_and_key(app: Conveyor) -> None:
    @app.job(trigger=app.event("welcome.sent"))
    def count_welcomes(payload: Any) -> Any:
        return payload

    @app.job
    async def sender(payload: Any, io: Any) -> str:
        event_id = await io.send_event("sent", "welcome.sent", {"id": 1})
        await io.wait("nap", 0.05, "seconds")
        return str(event_id)

    handle = sender(None).run_now()
    record = finish(app, handle)
    assert record.result == f"run-{handle.id}-sent"
    (event,) = app.events_list()
    assert event.source == handle.id and len(event.runs) == 1


def test_io_send_event_with_deliver_in_is_delivered_later(app: Conveyor) -> None:
    @app.job
    async def sender(payload: Any, io: Any) -> None:
        await io.send_event("later", "ping", {}, deliver_in=3600)

    finish(app, sender(None).run_now())
    (event,) = app.events_list()
    assert event.delivered_at is None and event.deliver_at is not None


@pytest.mark.parametrize(("call", "error", "message"), [
    (lambda app: app.send_event("", {}), ConfigurationError, "event name must be a non-empty"),
    (lambda app: app.send_event("x", {"f": object()}), PayloadError, "event payload"),
    (lambda app: app.send_event("x", {}, id=5), ConfigurationError, "event id must be"),
    (lambda app: app.event("x", filter={"plan": "pro"}), ConfigurationError, "non-empty list"),
])
def test_bad_event_input_gets_one_clear_error(
    app: Conveyor, call: Any, error: type[Exception], message: str
) -> None:
    with pytest.raises(error) as info:
        call(app)
    assert message in str(info.value)


@pytest.mark.parametrize("spec", ["{oops", "[1]", '{"name": "ping", "filter": [1, 2]}'])
def test_a_waiting_step_whose_stored_filter_cannot_be_read_stops_no_delivery(
    app: Conveyor, caplog: pytest.LogCaptureFixture, spec: str
) -> None:
    """Its run is not woken (and logged); the event still starts its triggers' runs
    and wakes the other waiters."""
    seen: list[Any] = []

    @app.job(trigger=app.event("ping"))
    def on_ping(payload: Any) -> None:
        seen.append(payload)

    @app.job
    async def waiter(io: Any) -> Any:
        found = await io.wait_for_event("w", "ping", filter={"n": [1]})
        return found["payload"]

    spoiled, other = waiter().run_now(), waiter().run_now()
    app.run_worker(burst=True)
    overwrite(app, "steps", spoiled.id, key="job_id", input=spec)
    event = app.send_event("ping", {"n": 1})
    app.run_worker(burst=True)
    assert seen == [{"n": 1}] and len(event.runs) == 1
    assert other.result() == {"n": 1}
    assert app.get_job(spoiled.id).state == "waiting"  # type: ignore[union-attr]
    assert any(r.exc_info and "stored filter" in r.getMessage() and spec in r.getMessage()
               for r in caplog.records)


def test_an_event_whose_stored_payload_is_not_json_is_listed_as_its_text(
    app: Conveyor,
) -> None:
    event = app.send_event("ping", {"n": 1})
    overwrite(app, "events", event.id, payload="{oops")
    [listed] = app.events_list()
    assert listed.payload == "{oops" and app.get_event(event.id) == listed
