"""SPEC §2-§3 snippets taken literally, then varied: awaited vs plain calls, keyword vs
positional, every unit spelling, the defaults, and the types read back."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from conveyor import Conveyor, JobFailed, JobHandle, Retry
from tests.acceptance.blind_core.support import START, UNITS, due, record
from tests.conformance.helpers import ManualClock, drain


def define_snippet_jobs(app: Conveyor) -> tuple[Any, Any]:
    """SPEC §2's two definitions, verbatim (bodies filled in)."""

    @app.job
    def resize(path, meta):  # type: ignore[no-untyped-def]
        return {"path": path, "attempt": meta.attempt}

    @app.job("retry-request", retry=Retry(retries=5, wait=60, backoff="exponential"),
             priority="high", timeout=300, retention="7 days", queue="exports")
    async def retry_request(request, meta):  # type: ignore[no-untyped-def]
        again = meta.jobs.retry_request(request).run_in(30, "seconds")
        same = meta.jobs["retry-request"]
        return {"again": again.id, "same": same is meta.jobs.retry_request}

    return resize, retry_request


def test_section_three_snippet_plain_and_awaited(capp: Conveyor) -> None:
    resize, retry_request = define_snippet_jobs(capp)
    h = resize("a.png").run_now()
    assert isinstance(h, JobHandle) and isinstance(h.id, int)
    assert record(capp, h).state == "queued"
    h = resize("a.png").run_at(datetime(2037, 1, 1, tzinfo=UTC))
    assert (record(capp, h).state, due(capp, h)) == ("scheduled", datetime(2037, 1, 1, tzinfo=UTC))
    h = resize("a.png").run_in(30, "seconds")
    assert due(capp, h) == START + timedelta(seconds=30)

    async def awaited() -> list[JobHandle]:
        return [await retry_request({"u": 1}).run_in(2, "quarters"),
                await retry_request({"u": 2}).run_now(),
                await retry_request({"u": 3}).run_at(datetime(2037, 1, 1, tzinfo=UTC))]

    quarters, now, at = asyncio.run(awaited())
    assert all(isinstance(each, JobHandle) and isinstance(each.id, int)
               for each in (quarters, now, at))
    # 2031-01-31 + 2 quarters: a calendar step to the last day of July
    assert due(capp, quarters) == datetime(2031, 7, 31, 23, 30, tzinfo=UTC)
    assert record(capp, now).state == "queued"
    assert due(capp, at) == datetime(2037, 1, 1, tzinfo=UTC)
    assert capp.count() == 6


def test_section_two_options_are_read_back_from_the_record(app: Conveyor) -> None:
    _, retry_request = define_snippet_jobs(app)
    rec = record(app, retry_request({"u": 1}).run_now())
    assert rec.job == "retry-request"
    assert rec.queue == "exports"
    assert rec.priority == "high"
    assert rec.max_attempts == 6 and rec.attempts == 0
    assert list(rec.args) == [{"u": 1}] and rec.kwargs == {}
    assert rec.created_at.utcoffset() == timedelta(0)
    assert (rec.started_at, rec.finished_at, rec.result, rec.error) == (None, None, None, None)


def test_meta_jobs_by_attribute_and_by_id_inside_a_run(app: Conveyor) -> None:
    _, retry_request = define_snippet_jobs(app)
    first = retry_request({"u": 1}).run_now()
    app.run_worker(burst=True, queues=["exports"])
    result = first.result(timeout=10)
    assert result["same"] is True
    again = record(app, result["again"])
    assert (again.job, again.state, list(again.args)) == ("retry-request", "scheduled", [{"u": 1}])


def test_registry_by_id_and_by_attribute_are_the_same_job(app: Conveyor) -> None:
    resize, _ = define_snippet_jobs(app)
    assert app.jobs["retry-request"] is app.jobs.retry_request
    assert app.jobs["resize"] is app.jobs.resize is resize
    handle = app.jobs["retry-request"]({"u": 9}).run_now()
    assert record(app, handle).queue == "exports"


@pytest.mark.parametrize("unit", UNITS)
def test_awaited_run_in_matches_the_plain_call_for_every_spelling(capp: Conveyor,
                                                                   unit: str) -> None:
    @capp.job
    def job() -> None: ...

    async def awaited() -> JobHandle:
        return await job().run_in(2, unit + "s")

    plain = due(capp, job().run_in(2, unit))
    assert due(capp, asyncio.run(awaited())) == plain
    assert due(capp, job().run_in(n=2, unit=unit + "s")) == plain


def test_result_and_wait_with_their_defaults_and_keywords(app: Conveyor) -> None:
    @app.job
    def double(x: int) -> int:
        return 2 * x

    @app.job
    def broken() -> None:
        raise KeyError("missing thing")

    ok, bad = double(21).run_now(), broken().run_now()
    later = double(1).run_in(1, "day")
    drain(app)
    assert ok.result() == 42 and ok.result(None) == 42 and ok.result(timeout=30) == 42
    with pytest.raises(JobFailed) as failed:
        bad.result()
    assert "missing thing" in str(failed.value)
    with pytest.raises(TimeoutError):
        later.result(timeout=0.05)
    with pytest.raises(TimeoutError):
        later.result(0.05)

    async def waits() -> None:
        assert await ok.wait() == 42
        assert await ok.wait(timeout=30) == 42
        with pytest.raises(JobFailed):
            await bad.wait()
        with pytest.raises(TimeoutError):
            await later.wait(timeout=0.05)
        with pytest.raises(TimeoutError):
            await later.wait(0.05)

    asyncio.run(waits())


def test_a_cancelled_job_raises_job_failed_from_result_and_wait(app: Conveyor) -> None:
    @app.job
    def job() -> None: ...

    handle = job().run_in(1, "hour")
    assert app.cancel(handle.id) is True
    with pytest.raises(JobFailed):
        handle.result(timeout=30)
    with pytest.raises(JobFailed):
        asyncio.run(handle.wait(timeout=30))  # type: ignore[arg-type]


def test_trigger_options_plain_and_awaited(capp: Conveyor, clock: ManualClock) -> None:
    @capp.job
    def job(x: Any = None) -> None: ...

    options: dict[str, Any] = {"priority": 7, "queue": "q1", "key": "k", "owner": 42,
                               "retry": Retry(retries=2), "timeout": 5,
                               "retention": "1 day", "remove_delay": 60}

    async def awaited() -> list[JobHandle]:
        return [await job(1).run_now(**options), await job(2).run_in(1, "minute", **options),
                await job(3).run_at(START + timedelta(hours=1), **options)]

    handles = [job(1).run_now(**options), job(2).run_in(1, "minute", **options),
               job(3).run_at(START + timedelta(hours=1), **options), *asyncio.run(awaited())]
    for handle in handles:
        rec = record(capp, handle)
        assert (rec.priority, rec.queue, rec.key, rec.owner, rec.max_attempts) == (
            7, "q1", "k", 42, 3)


@pytest.mark.parametrize("owner", [0, None])
def test_owner_zero_or_none_is_the_system(app: Conveyor, owner: Any) -> None:
    @app.job
    def job() -> None: ...

    system = job().run_now(owner=owner)
    job().run_now(owner=5)
    assert record(app, system).owner in (0, None)
    assert app.cancel_jobs(type="job", owner=owner) == 1
    assert app.count(state="queued") == 1


def test_default_priority_and_queue_when_omitted(app: Conveyor) -> None:
    @app.job
    def job() -> None: ...

    rec = record(app, job().run_now())
    assert rec.priority == "normal"
    assert rec.key is None and rec.owner in (0, None)
    assert rec.attempts == 0
