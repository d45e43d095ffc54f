"""Finding jobs: get_job, jobs_list, count (SPEC §4)."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from typing import Any

import pytest

from conveyor import Conveyor, JobRecord, Retry
from conveyor.stores.matching import contains

from .helpers import drain, run_failing


def test_get_job_returns_every_field_of_a_completed_job(app: Conveyor) -> None:
    @app.job("make-report", version="2.1.0", retry=Retry(retries=1, wait=0))
    def make_report(title: str, *, pages: int, meta: Any) -> dict[str, Any]:
        meta.log.info("page %d", meta.attempt)
        meta.progress(0.5, "half")
        if meta.attempt == 1:
            raise RuntimeError("first try")
        return {"title": title, "pages": pages}

    before = datetime.now(UTC)
    h = make_report("Q3", pages=4).run_now(priority="high", queue="reports", key="q3",
                                           owner=12)
    drain(app, queues=["reports"])
    after = datetime.now(UTC)
    record = app.get_job(h.id)
    assert isinstance(record, JobRecord)
    assert record.id == h.id and isinstance(record.id, int)
    assert record.job == "make-report"
    assert record.args == ["Q3"] and record.kwargs == {"pages": 4}
    assert record.payload == "Q3"  # its single positional argument
    assert record.state == "completed"
    assert (record.priority, record.queue, record.key, record.owner) == (10, "reports", "q3", 12)
    assert (record.attempts, record.max_attempts) == (2, 2)
    for stamp in (record.run_at, record.created_at, record.started_at, record.finished_at):
        assert stamp is not None and stamp.tzinfo is UTC
        assert before.timestamp() - 0.01 <= stamp.timestamp() <= after.timestamp() + 0.01
    assert record.created_at <= record.started_at <= record.finished_at  # type: ignore[operator]
    assert record.result == {"title": "Q3", "pages": 4}
    assert record.error is None
    assert record.progress == 1.0
    assert record.version == "2.1.0"
    assert record.rescheduled_from is None
    assert [(g.attempt, g.message) for g in record.logs] == [(1, "page 1"), (2, "page 2")]
    assert [a.number for a in record.history] == [1, 2]
    assert record.history[0].error is not None
    assert record.history[0].error["message"] == "first try"
    assert record.finished


def test_get_job_of_a_failed_job_carries_its_error(app: Conveyor) -> None:
    h = run_failing(app, ZeroDivisionError("no"))
    record = app.get_job(h.id)
    assert record is not None and record.error is not None
    assert set(record.error) >= {"type", "message", "traceback"}
    assert record.error["type"] == "ZeroDivisionError"
    assert record.result is None


def test_get_job_of_a_new_job_has_no_run_details_yet(app: Conveyor) -> None:
    @app.job
    def later() -> None: ...

    record = app.get_job(later().run_in(1, "day").id)
    assert record is not None
    assert (record.attempts, record.started_at, record.finished_at) == (0, None, None)
    assert (record.result, record.error, record.progress, record.version) == (None, None, None,
                                                                            None)
    assert record.history == [] and record.logs == []
    assert not record.finished


@pytest.mark.parametrize("unknown", [987654, -1, "not-a-number", None])
def test_get_job_of_an_unknown_id_is_none(app: Conveyor, unknown: Any) -> None:
    assert app.get_job(unknown) is None


@pytest.fixture
def mix(app: Conveyor) -> dict[str, Any]:
    """Jobs of two types in several states, queues and owners."""

    @app.job
    def alpha(n: int) -> int:
        if n < 0:
            raise ValueError("negative")
        return n

    @app.job(queue="beta-q")
    def beta(n: int) -> int:
        return n

    h = {
        "a_done": alpha(1).run_now(owner="u1"),
        "a_failed": alpha(-1).run_now(),
        "b_done": beta(2).run_now(),
    }
    drain(app, queues=["default", "beta-q"])
    h["a_queued"] = alpha(3).run_now(owner="u1")
    h["b_scheduled"] = beta(4).run_in(1, "hour", owner="u2")
    h["a_cancelled"] = alpha(5).run_now()
    app.cancel(h["a_cancelled"].id)
    return h


def _ids(records: list[JobRecord]) -> set[int]:
    return {r.id for r in records}


def test_jobs_list_and_count_by_state(app: Conveyor, mix: dict[str, Any]) -> None:
    expected = {"completed": {"a_done", "b_done"}, "failed": {"a_failed"},
                "queued": {"a_queued"}, "scheduled": {"b_scheduled"},
                "cancelled": {"a_cancelled"}, "running": set(), "waiting": set()}
    for state, names in expected.items():
        assert _ids(app.jobs_list(state=state)) == {mix[n].id for n in names}, state
        assert app.count(state=state) == len(names)
    assert app.count(state=["queued", "scheduled"]) == 2
    assert app.count() == 6


def test_jobs_list_and_count_by_job_queue_and_owner(app: Conveyor, mix: dict[str, Any]) -> None:
    assert _ids(app.jobs_list(job="beta")) == {mix["b_done"].id, mix["b_scheduled"].id}
    assert app.count(job="alpha") == 4
    assert app.count(job=["alpha", "beta"]) == 6
    assert _ids(app.jobs_list(queue="beta-q")) == {mix["b_done"].id, mix["b_scheduled"].id}
    assert _ids(app.jobs_list(owner="u1")) == {mix["a_done"].id, mix["a_queued"].id}
    assert app.count(owner=None) == 3  # the system's jobs
    assert app.count(job="alpha", state="completed", owner="u1") == 1


def test_jobs_list_by_created_time_range(app: Conveyor) -> None:
    @app.job
    def t() -> None: ...

    early = t().run_now()
    time.sleep(0.02)
    middle = datetime.now(UTC)
    time.sleep(0.02)
    late = t().run_now()
    assert _ids(app.jobs_list(since=middle)) == {late.id}
    assert _ids(app.jobs_list(until=middle)) == {early.id}
    assert app.count(since=middle, until=datetime.now(UTC)) == 1


def test_jobs_list_is_newest_first_and_paginates(app: Conveyor) -> None:
    @app.job
    def p(n: int) -> None: ...

    ids = [h.id for h in app.enqueue_many(p(i) for i in range(25))]
    page1 = app.jobs_list(limit=10)
    page3 = app.jobs_list(limit=10, offset=20)
    assert [r.id for r in page1] == ids[::-1][:10]
    assert [r.id for r in page3] == ids[::-1][20:]
    assert [r.id for r in app.jobs_list(limit=5, newest_first=False)] == ids[:5]
    assert app.jobs_list(limit=10, offset=30) == []


def test_jobs_list_without_a_limit_lists_every_match(app: Conveyor) -> None:
    @app.job
    def p(n: int) -> None: ...

    ids = [h.id for h in app.enqueue_many(p(i) for i in range(250))]
    assert [r.id for r in app.jobs_list()] == ids[::-1]
    assert len(app.jobs_list(state="queued", offset=50)) == 200


def test_jobs_list_by_data_subset_and_text(app: Conveyor) -> None:
    @app.job
    def d(payload: dict[str, Any]) -> None: ...

    hit = d({"shop_id": 1, "name": "needle shop"}).run_now()
    d({"shop_id": 2, "name": "hay"}).run_now()
    assert _ids(app.jobs_list(data={"shop_id": 1})) == {hit.id}
    assert app.count(data={"shop_id": 1}) == 1
    assert _ids(app.jobs_list(text="needle")) == {hit.id}


def test_data_filters_match_exactly_what_the_payload_contains(app: Conveyor) -> None:
    @app.job
    def d(payload: Any) -> None: ...

    payloads: list[Any] = [
        {"n": 1}, {"n": 1.0}, {"n": True}, {"n": "1"}, {"n": None}, {"n": 2**60},
        {"n": {"id": 1}}, {"n": [1, 2]}, {"m": 1}, {"N": 1}, {"n": 1, "s": "é ü"},
        {"s": "é ü"}, {"s": "é"}, {"a.b": 1}, {'q"': "x"}, {"$n": 1}, [1], "n",
    ]
    ids = [d(p).run_now().id for p in payloads]
    for subset in ({"n": 1}, {"n": True}, {"n": "1"}, {"n": None}, {"n": 2**60},
                   {"n": 2**60 + 1}, {"n": 1.0}, {"s": "é ü"}, {"n": 1, "s": "é ü"},
                   {"a.b": 1}, {'q"': "x"}, {"$n": 1}, {"n": {"id": 1}}, {}):
        expected = {i for i, p in zip(ids, payloads, strict=True) if contains(p, subset)}
        assert _ids(app.jobs_list(data=subset, limit=100)) == expected, subset
        assert app.count(data=subset) == len(expected), subset


def test_jobs_list_refuses_bad_arguments(app: Conveyor) -> None:
    with pytest.raises(ValueError, match="unknown job state 'finished'"):
        app.jobs_list(state="finished")
    with pytest.raises(ValueError, match="limit and offset must be >= 0"):
        app.jobs_list(limit=-1)
    with pytest.raises(TypeError):
        app.jobs_list(colour="red")


@pytest.mark.parametrize("field", ["job", "queue", "key", "text", "owner"])
def test_jobs_list_and_count_refuse_nul_characters_in_text_filters(
    app: Conveyor, field: str
) -> None:
    for find in (app.jobs_list, app.count):
        with pytest.raises(ValueError, match=f"invalid {field} .*NUL"):
            bad: dict[str, Any] = {field: "a\x00b"}
            find(**bad)


def test_counts_has_every_state(app: Conveyor, mix: dict[str, Any]) -> None:
    assert app.counts() == {"scheduled": 1, "queued": 1, "blocked": 0, "running": 0,
                            "waiting": 0, "completed": 2, "failed": 1, "cancelled": 1}


def test_queue_counts_by_state(app: Conveyor, mix: dict[str, Any]) -> None:
    (running,) = app.store.claim("w", ["default"], 1, 30.0)
    assert running.id == mix["a_queued"].id
    assert app.store.queue_counts() == {
        "default": {"completed": 1, "failed": 1, "running": 1, "cancelled": 1},
        "beta-q": {"completed": 1, "scheduled": 1},
    }
