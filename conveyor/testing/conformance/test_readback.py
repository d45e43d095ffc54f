"""Trigger options read back as given: an owner keeps its type (42 stays an int, "u1" a
str), a priority equals the level name or number it was given (SPEC §3, §4)."""

from __future__ import annotations

from typing import Any

import pytest

from conveyor import Conveyor, JobRecord, Priority
from conveyor.testing import enqueued

from .helpers import drain


@pytest.mark.parametrize("owner", [42, "u1", "42", -7, 2**40])
def test_an_owner_reads_back_with_the_type_it_was_given(app: Conveyor, owner: Any) -> None:
    seen: list[Any] = []
    heard: list[Any] = []

    @app.job
    def whose(meta: Any) -> Any:
        seen.append(meta.job.owner)
        return meta.job.owner

    app.on("completed")(lambda record: heard.append(record.owner))
    h = whose().run_now(owner=owner)
    for record in (app.get_job(h.id), *app.jobs_list(owner=owner), *enqueued(app, whose)):
        assert isinstance(record, JobRecord)
        assert record.owner == owner and type(record.owner) is type(owner)
    drain(app)
    assert seen == heard == [owner] and type(seen[0]) is type(owner)
    assert h.result(timeout=5) == owner


@pytest.mark.parametrize("owner", [0, None, ""])
def test_the_system_owner_reads_back_as_none(app: Conveyor, owner: Any) -> None:
    @app.job
    def noop() -> None: ...

    record = app.get_job(noop().run_now(owner=owner).id)
    assert record is not None and record.owner is None


def test_owner_filters_match_an_int_owner_given_as_int_or_text(app: Conveyor) -> None:
    @app.job
    def noop() -> None: ...

    as_int, as_text = noop().run_now(owner=42), noop().run_now(owner="42")
    noop().run_now(owner="u1")
    for owner in (42, "42"):
        assert {r.id for r in app.jobs_list(owner=owner)} == {as_int.id, as_text.id}
        assert app.count(owner=owner) == 2
    # dedupe matches by (job, key, owner) whichever way the owner is spelt
    kept = noop().run_now(owner="42", key="k")
    assert noop().run_now(owner=42, key="k", unique=True).id == kept.id
    assert app.cancel_jobs(owner=42) == 3
    assert app.count(state="cancelled", owner="42") == 3


def test_a_scheduled_job_keeps_its_owner_type(app: Conveyor) -> None:
    @app.job
    def tick(data: Any = None) -> None: ...

    crons = app.schedule_cron_job("tick", "0 3 * * *", data={"n": 1}, owner=42)
    plain = app.schedule_job(type="tick", data={"n": 2}, owner=7)
    named = app.schedule_job(type="tick", data={"n": 3}, owner="u1", schedule="every day")
    for handle, owner in ((crons, 42), (plain, 7), (named, "u1")):
        record = app.get_job(handle.id)
        assert record is not None and record.owner == owner, owner
        assert type(record.owner) is type(owner)


@pytest.mark.parametrize(("given", "number", "name"), [
    ("high", 10, "high"), ("LOW", -10, "low"), ("normal", 0, "normal"), (None, 0, "normal"),
    (20, 20, "critical"), (7, 7, None), (-2**31, -2**31, None),
])
def test_a_priority_reads_back_equal_to_what_was_given(
    app: Conveyor, given: Any, number: int, name: str | None
) -> None:
    seen: list[Any] = []

    @app.job
    def noop(meta: Any) -> None:
        seen.append(meta.job.priority)

    options = {} if given is None else {"priority": given}
    h = noop().run_now(**options)
    records = [app.get_job(h.id), *app.jobs_list(id=h.id)]
    drain(app)
    for priority in [r.priority for r in records if r is not None] + seen:
        assert isinstance(priority, Priority) and priority == number
        assert priority.name == name
        if name is not None:
            assert priority == name
        if isinstance(given, str):
            assert priority == given
    assert len(seen) == 1
