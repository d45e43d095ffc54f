"""SPEC §7-12 corners: text search taken literally, Prometheus labels escaped, bearer
scheme case, timed dependencies, children asleep on the fake clock, a run cancelled
as it runs, rows no worker code can run."""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from typing import Any

import pytest

from conveyor import Conveyor
from conveyor.testing import FakeClock, run_until_idle
from tests.acceptance.blind_m.support import items_of
from tests.acceptance.blind_p.support import assert_json_error, client
from tests.acceptance.support import record_of

START = datetime(2030, 6, 1, tzinfo=UTC)


def test_text_search_takes_wildcards_literally(app: Conveyor) -> None:
    @app.job
    def note(text):
        return text

    for text in ("100%", "abc", "a_c", "ABX"):
        note(text).run_now()
    web = client(app)

    def found(query: str) -> list[Any]:
        return sorted(r["payload"] for r in items_of(web.get("/api/runs",
                                                             params={"q": query}).json()))

    assert found("%") == ["100%"]
    assert found("_") == ["a_c"]
    assert found("ab") == ["ABX", "abc"]


def test_metric_labels_escape_quotes_and_backslashes(app: Conveyor) -> None:
    from prometheus_client.parser import text_string_to_metric_families

    @app.job('we"ird\\job', queue='q"1\\x')
    def weird():
        return 1

    weird().run_now()
    run_until_idle(app)
    families = list(text_string_to_metric_families(client(app).get("/metrics").text))
    labels = {value for family in families for sample in family.samples
              for value in sample.labels.values()}
    assert 'we"ird\\job' in labels and 'q"1\\x' in labels


def test_the_bearer_scheme_is_case_insensitive_and_other_schemes_are_refused(
        app: Conveyor) -> None:
    web = client(app, token="s3cret-p")
    assert web.get("/api/runs", headers={"Authorization": "bearer s3cret-p"}).status_code == 200
    for header in ("Basic czNjcmV0LXA=", "Bearer s3cret-P", "Token s3cret-p", "Bearer"):
        assert_json_error(web.get("/api/runs", headers={"Authorization": header}), 401)
    assert_json_error(web.get("/metrics", headers={"Authorization": "Bearer nope"}), 401)


def test_a_wrong_method_is_a_4xx_json_answer(app: Conveyor) -> None:
    web = client(app)
    for method in ("DELETE", "PUT", "PATCH"):
        assert_json_error(web.request(method, "/api/runs"), 405)
        assert_json_error(web.request(method, "/api/events"), 405)


def test_a_timed_dependent_waits_for_its_time_and_its_dependency(app: Conveyor) -> None:
    clock = FakeClock(app, start=START)

    @app.job
    def step(n):
        return n

    first = step(1).run_now()
    timed = step(2).run_in(1, "hour", depends_on=[first])
    late = step(3).run_in(2, "hours")
    after_late = step(4).run_now(depends_on=[late])
    run_until_idle(app)
    assert record_of(app, timed.id).state == "scheduled"
    assert record_of(app, after_late.id).state == "blocked"
    clock.advance(2, "hours")
    run_until_idle(app)  # the dependency and then its dependent, in one call
    assert [record_of(app, h.id).state for h in (timed, late, after_late)] == ["completed"] * 3


def test_children_asleep_on_the_fake_clock_wake_the_parent(app: Conveyor) -> None:
    clock = FakeClock(app, start=START)

    @app.job
    async def napper(n, io):
        await io.wait("nap", n, "days")
        return n

    @app.job
    async def parent(io):
        return await io.run_jobs("naps", [napper(2), napper(1)])

    handle = parent().run_now()
    run_until_idle(app)
    clock.advance(1, "day")
    run_until_idle(app)
    assert record_of(app, handle.id).state == "waiting"
    clock.advance(1, "day")
    run_until_idle(app)
    assert handle.result(timeout=5) == [2, 1]


def test_a_run_cancelled_as_it_runs_stays_cancelled(app: Conveyor,
                                                    caplog: pytest.LogCaptureFixture) -> None:
    hooks: list[tuple[str, str]] = []
    app.on("cancelled")(lambda record, error=None: hooks.append(("cancelled", record.state)))
    app.on("completed")(lambda record, error=None: hooks.append(("completed", record.state)))

    @app.job
    def quits(meta):
        app.cancel(meta.job.id)
        return "ignored"

    caplog.set_level(logging.INFO, logger="conveyor")
    handle = quits().run_now()
    run_until_idle(app)
    record = record_of(app, handle.id)
    assert record.state == "cancelled" and record.result is None
    assert hooks == [("cancelled", "cancelled")]
    assert any("cancel" in r.getMessage() for r in caplog.records
               if r.name.startswith("conveyor"))


def test_rows_no_worker_code_can_run_are_failed_with_a_reason_and_the_rest_run(
        open_app: Any) -> None:
    old = open_app()
    FakeClock(old, start=START)

    @old.job(trigger=old.every("1 minute"))
    def retired_tick():
        return "old"

    @old.job
    def retired():
        return "old"

    run_until_idle(old)
    orphan = retired().run_now()
    new = open_app()
    clock = FakeClock(new, start=START)

    @new.job
    def current():
        return "new"

    fresh = current().run_now()
    clock.advance(5, "minutes")
    run_until_idle(new)
    assert record_of(new, fresh.id).state == "completed"
    stuck = record_of(new, orphan.id)
    assert stuck.state == "failed" and "retired" in str(stuck.error)
    assert new.count(state="running") == 0
