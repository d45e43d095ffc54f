"""Schedule rows conveyor did not write (every store): by hand, by other software or by
a newer version. The other schedules go on, the unreadable one is logged once with its
traceback, and every reader lists it saying why."""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime
from typing import Any

import pytest

from conveyor import Conveyor
from conveyor.testing import FakeClock
from tests.support import overwrite


def _zone(definition: str) -> str:
    return json.dumps({**json.loads(definition), "tz": "Mars/Olympus"})


SPOILED = {  # how a column is spoiled -> what app.schedules() says of it
    "unknown-zone": ("definition", _zone, 'unknown time zone "Mars/Olympus"'),
    "definition-not-json": ("definition", lambda _: "{oops", "cannot be read"),
    "definition-a-list": ("definition", lambda _: "[]", "cannot be read"),
    "options-a-list": ("options", lambda _: "[1]", "options are not a JSON object: '[1]'"),
    "options-priority-text": ("options", lambda _: '{"priority": "high"}',
                              "its stored priority 'high' is not one an occurrence can hold"),
    "options-huge-priority": ("options", lambda _: '{"priority": 1e400}',
                              "its stored priority inf is not"),
}


@pytest.mark.parametrize("spoiled", SPOILED)
def test_an_unreadable_schedule_is_logged_once_and_the_others_go_on(
    app: Conveyor, caplog: pytest.LogCaptureFixture, spoiled: str
) -> None:
    ran: list[str] = []

    @app.job(trigger=app.every("1 minute"))
    def good() -> None:
        ran.append("good")

    @app.job(trigger=app.cron("* * * * *"))
    def bad() -> None:
        ran.append("bad")

    column, spoil, why = SPOILED[spoiled]
    with FakeClock(app, start=datetime(2031, 1, 1, tzinfo=UTC), patch_python=False) as clock:
        app.sync_schedules()
        [sid] = [s.id for s in app.schedules() if s.job == "bad"]
        row = app.store.get_schedule(sid)
        assert row is not None
        overwrite(app, "schedules", sid, **{column: spoil(getattr(row, column))})
        with caplog.at_level(logging.DEBUG, logger="conveyor"):
            for _ in range(3):
                clock.advance(61, "seconds")
                app.run_worker(burst=True)
        listed = {s.job: s for s in app.schedules()}
    # the occurrence stored before, and one more a worker's cached copy of the row may add
    assert ran.count("good") == 3 and 1 <= ran.count("bad") <= 2
    logged = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert len(logged) == 1 and logged[0].exc_info is not None
    assert f"schedule {sid!r}: cannot compute its next occurrence" in logged[0].getMessage()
    assert listed["good"].next and listed["bad"].next == []
    assert listed["bad"].kind == "unreadable" and why in listed["bad"].explain
    assert app.get_schedule(sid) == listed["bad"]
    assert listed["bad"].text == ("{oops" if spoiled == "definition-not-json" else
                                  "[]" if spoiled == "definition-a-list" else "* * * * *")


def test_deploying_over_a_definition_that_cannot_be_read_replaces_it(app: Conveyor) -> None:
    @app.job(trigger=app.cron("0 3 * * *"))
    def nightly() -> None: ...

    app.sync_schedules()
    [sid] = [s.id for s in app.schedules()]
    overwrite(app, "schedules", sid, definition="{oops", fingerprint="older")
    app.periodic.sync(app)  # a worker of the next deploy starting
    app.periodic.save(app.store, app.periodic.code[sid])
    [listed] = app.schedules()
    assert listed.text == "0 3 * * *" and listed.kind == "cron" and listed.next


def test_replacing_runtime_schedules_passes_over_options_that_cannot_be_read(
    app: Conveyor,
) -> None:
    seen: list[Any] = []

    @app.job
    def sync_shop(payload: Any) -> None:
        seen.append(payload)

    first = app.schedule_job("sync_shop", {"shop_id": 1}, schedule="every hour", key="a")
    app.schedule_job("sync_shop", {"shop_id": 2}, schedule="every hour", key="b")
    overwrite(app, "schedules", "sync_shop:a", options="[1]")
    app.schedule_job("sync_shop", {"shop_id": 3}, schedule="every day", key="b",
                     cancel_repeats=True)
    assert {s.id: s.text for s in app.schedules()} == {
        "sync_shop:a": "every hour", "sync_shop:b": "every day"}
    assert app.get_job(first.id).state == "scheduled"  # type: ignore[union-attr]
