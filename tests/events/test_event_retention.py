"""Event retention (every store): the built-in purge deletes delivered events older than
``event_retention``, never undelivered ones nor those an unfinished run still relies on."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from conveyor import ConfigurationError, Conveyor
from conveyor.schedules.periodic import PURGE_JOB
from conveyor.testing import FakeClock
from tests.durable.helpers import finish, settle


def retention_purge(app: Conveyor) -> Any:
    """Run the built-in ``conveyor.purge`` job's function, as its schedule would."""
    definition = app.definition(PURGE_JOB)
    assert definition is not None
    return definition.fn()


def test_delivered_events_older_than_the_retention_are_purged_with_expired_jobs(
    app: Conveyor,
) -> None:
    app.send_event("ping", {"n": 1}, id="old")
    assert retention_purge(app) == {"purged": 0, "events": 0}  # 30 days by default
    assert app.get_event("old") is not None
    app.event_retention = 0.0
    assert retention_purge(app) == {"purged": 0, "events": 1}
    assert app.get_event("old") is None and app.events_list() == []


def test_event_retention_none_keeps_events_forever(app: Conveyor) -> None:
    app.send_event("ping", {}, id="kept")
    app.event_retention = None
    assert retention_purge(app)["events"] == 0
    assert app.get_event("kept") is not None


def test_an_event_not_delivered_yet_is_never_purged(app: Conveyor) -> None:
    later = datetime.now(UTC) + timedelta(days=1)
    app.send_event("invoice.due", {"id": 3}, id="inv-3", deliver_at=later)
    assert app.store.purge_events(app.store.now() + 10 * 365 * 86400) == 0
    found = app.get_event("inv-3")
    assert found is not None and found.delivered_at is None


def test_an_event_is_kept_until_the_runs_it_started_finish(app: Conveyor) -> None:
    @app.job(trigger=app.event("user.created"))
    async def welcome(payload: Any, io: Any, ctx: Any) -> Any:
        await io.wait("nap", 0.2)
        return ctx.trigger

    # The app's clock stands still until advanced: on a busy machine a real 0.2 s nap could
    # end inside the burst worker that started it, which then finishes the run.
    clock = FakeClock(app, start=datetime(2030, 1, 1, tzinfo=UTC), patch_python=False)
    [run] = app.send_event("user.created", {"id": 7}, id="u7").runs
    assert app.get_job(run).state in ("queued", "scheduled")  # type: ignore[union-attr]
    assert app.store.purge_events(app.store.now() + 1) == 0
    app.run_worker(burst=True)
    assert app.get_job(run).state == "waiting"  # type: ignore[union-attr]
    assert app.store.purge_events(app.store.now() + 1) == 0
    clock.advance(1)
    record = finish(app, app.get_job(run))  # type: ignore[arg-type]
    assert record.result == {"type": "event", "event_id": "u7", "event_name": "user.created"}
    assert app.store.purge_events(app.store.now() + 1) == 1
    after = app.get_job(run)
    assert after is not None and after.event_id == "u7"  # the run keeps the id


def test_an_event_that_woke_an_unfinished_wait_for_event_is_kept(app: Conveyor) -> None:
    @app.job
    async def approval(payload: Any, io: Any) -> Any:
        event = await io.wait_for_event("approved", "doc.approved")
        await io.wait("then-nap", 0.2)
        return event["id"]

    handle = approval(None).run_now()
    assert settle(app, handle).state == "waiting"
    app.send_event("doc.approved", {"doc": 1}, id="ok-1")  # wakes the run
    app.send_event("doc.approved", {"doc": 2}, id="ok-2")  # nobody waits any more
    assert app.store.purge_events(app.store.now() + 1) == 1
    assert app.get_event("ok-1") is not None and app.get_event("ok-2") is None
    assert finish(app, handle).result == "ok-1"
    assert app.store.purge_events(app.store.now() + 1) == 1
    assert app.get_event("ok-1") is None


def test_a_waiting_wait_for_event_still_gets_an_event_sent_before_the_cutoff(
    app: Conveyor,
) -> None:
    @app.job
    async def listener(payload: Any, io: Any) -> Any:
        return (await io.wait_for_event("got", "late.ping"))["payload"]

    handle = listener(None).run_now()
    assert settle(app, handle).state == "waiting"
    app.send_event("late.ping", {"n": 1}, id="lp", deliver_at=datetime.now(UTC) +
                   timedelta(seconds=0.2))
    assert app.store.purge_events(app.store.now() + 86400) == 0
    assert finish(app, handle).result == {"n": 1}


def test_the_retention_schedule_is_set_up_once_events_exist(app: Conveyor) -> None:
    app.run_worker(burst=True)
    assert PURGE_JOB not in [s.id for s in app.schedules()]
    app.send_event("ping", {})
    app.run_worker(burst=True)
    assert PURGE_JOB in [s.id for s in app.schedules()]


@pytest.mark.parametrize("value", ["soon", -1, "-3 days"])
def test_a_bad_event_retention_is_refused_naming_the_option(value: Any) -> None:
    with pytest.raises(ConfigurationError, match="event_retention"):
        Conveyor("memory://", event_retention=value)


def test_event_retention_accepts_durations() -> None:
    with Conveyor("memory://", event_retention="7 days") as app:
        assert app.event_retention == 7 * 86400
    with Conveyor("memory://", event_retention=timedelta(hours=1)) as app:
        assert app.event_retention == 3600
