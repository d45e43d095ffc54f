"""SPEC §4 — finding and steering jobs by id: ``get_job`` / ``cancel`` / ``retry`` with any
id (unknown ones are simply not found), and ``jobs_list`` / ``count`` by the job's id."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from conveyor import Conveyor
from conveyor.testing import run_until_idle

NOT_AN_ID = st.one_of(
    st.text(), st.none(), st.booleans(), st.floats(allow_nan=True),
    st.integers(min_value=2**63), st.integers(max_value=-1),
    st.lists(st.integers(), max_size=2), st.binary(max_size=4),
).filter(lambda value: not (isinstance(value, str) and value.strip().lstrip("+-").isdigit()))


# The calls change nothing, so one empty store serves every example.
@settings(max_examples=40, suppress_health_check=[
    HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(value=NOT_AN_ID)
def test_an_id_naming_no_job_is_not_found_by_get_job_cancel_or_retry(
    sqlite_app: Conveyor, value: object
) -> None:
    assert sqlite_app.get_job(value) is None  # type: ignore[arg-type]
    assert sqlite_app.cancel(value) is False  # type: ignore[arg-type]
    assert sqlite_app.retry(value) is False  # type: ignore[arg-type]


def test_a_handle_or_the_id_as_text_finds_cancels_and_retries_the_job(app: Conveyor) -> None:
    @app.job
    def resize(path: str) -> str:
        return path

    handle = resize("a.png").run_in(1, "hour")
    record = app.get_job(handle)  # type: ignore[arg-type]
    assert record is not None and record.id == handle.id
    assert app.get_job(str(handle.id)) == app.get_job(handle.id)  # type: ignore[arg-type]
    assert app.cancel(str(handle.id)) is True  # type: ignore[arg-type]
    assert app.get_job(handle.id).state == "cancelled"  # type: ignore[union-attr]
    assert app.retry(handle) is True  # type: ignore[arg-type]
    run_until_idle(app)
    assert handle.result(timeout=30) == "a.png"


def test_jobs_list_and_count_take_the_job_id_as_id_type_or_job(app: Conveyor) -> None:
    @app.job("retry-request")
    def retry_request(n: int) -> None: ...

    @app.job
    def other() -> None: ...

    handles = [retry_request(n).run_in(1, "hour") for n in range(3)]
    other().run_in(1, "hour")
    for spelling in ("id", "type", "job"):
        found = app.jobs_list(**{spelling: "retry-request"})
        assert sorted(r.id for r in found) == sorted(h.id for h in handles)
        assert app.count(**{spelling: "retry-request", "state": "scheduled"}) == 3
        assert app.count(**{spelling: ["retry-request", "other"]}) == 4
        assert app.count(**{spelling: retry_request}) == 3  # the definition itself
        assert app.count(**{spelling: [retry_request, other]}) == 4


def test_jobs_list_by_a_run_id_finds_that_run(app: Conveyor) -> None:
    @app.job
    def noop() -> None: ...

    first, second = noop().run_now(), noop().run_now()
    assert [r.id for r in app.jobs_list(id=second.id)] == [second.id]
    assert [r.id for r in app.jobs_list(id=first)] == [first.id]


def test_two_spellings_of_the_job_id_at_once_are_refused(sqlite_app: Conveyor) -> None:
    with pytest.raises(TypeError, match="give one"):
        sqlite_app.jobs_list(type="a", job="b")
    with pytest.raises(TypeError, match="typ"):
        sqlite_app.count(typ="a")
