"""Definitions as they run: options, sync/async execution, meta, include, add_worker (SPEC §2)."""

from __future__ import annotations

import asyncio
import threading
from types import SimpleNamespace
from typing import Any

import pytest

from conveyor import Conveyor, Fail, JobDefinition, JobFailed, JobHandle, Retry
from conveyor.options import JobOptions

from .helpers import drain


def test_bare_decorator_runs_the_function_under_its_name(app: Conveyor) -> None:
    @app.job
    def resize(path: str) -> str:
        return path.upper()

    h = resize("a.png").run_now()
    drain(app)
    record = app.get_job(h.id)
    assert record is not None and record.job == "resize"
    assert h.result(timeout=5) == "A.PNG"


def test_decorator_with_every_option_applies_them(app: Conveyor) -> None:
    @app.job("retry-request", name="Retry a request", version="1.2.0",
             retry=Retry(retries=2, wait=0), priority="high", timeout=30,
             retention="7 days", remove_delay=3600, queue="exports")
    async def retry_request(request: dict[str, Any]) -> int:
        return len(request)

    definition = app.jobs["retry-request"]
    assert definition.display_name == "Retry a request"
    assert definition.version == "1.2.0"
    h = retry_request({"a": 1}).run_now()
    record = app.get_job(h.id)
    assert record is not None
    assert (record.job, record.priority, record.queue, record.max_attempts) == (
        "retry-request", 10, "exports", 3)
    drain(app, queues=["exports"])
    record = app.get_job(h.id)
    assert record is not None
    assert record.state == "completed" and record.result == 1
    assert record.version == "1.2.0"  # every run records the version it ran with


def test_trigger_options_override_definition_options(app: Conveyor) -> None:
    @app.job(priority="low", queue="slow", retry=3)
    def job() -> None: ...

    record = app.get_job(job().run_now(priority="critical", queue="fast", retry=0).id)
    assert record is not None
    assert (record.priority, record.queue, record.max_attempts) == (20, "fast", 1)


def test_sync_job_runs_in_a_thread_not_on_the_event_loop(app: Conveyor) -> None:
    seen: dict[str, Any] = {}

    @app.job
    def blocking() -> None:
        seen["thread"] = threading.current_thread().name
        try:
            asyncio.get_running_loop()
            seen["loop"] = True
        except RuntimeError:
            seen["loop"] = False

    blocking().run_now()
    drain(app)
    assert seen["loop"] is False
    assert seen["thread"].startswith("conveyor-job")


def test_async_job_runs_on_the_worker_event_loop(app: Conveyor) -> None:
    seen: dict[str, Any] = {}

    @app.job
    async def nonblocking() -> None:
        seen["loop"] = asyncio.get_running_loop()
        seen["thread"] = threading.current_thread().name
        await asyncio.sleep(0)

    nonblocking().run_now()
    drain(app)
    assert isinstance(seen["loop"], asyncio.AbstractEventLoop)
    assert not seen["thread"].startswith("conveyor-job")


def test_meta_attempt_starts_at_one_and_counts_retries(app: Conveyor) -> None:
    attempts: list[int] = []

    @app.job(retry=Retry(retries=2, wait=0))
    def flaky(meta: Any) -> int:
        attempts.append(meta.attempt)
        if meta.attempt < 3:
            raise RuntimeError(f"attempt {meta.attempt}")
        return meta.attempt

    h = flaky().run_now()
    drain(app)
    assert attempts == [1, 2, 3]
    assert h.result(timeout=5) == 3


def test_meta_is_not_part_of_the_payload(app: Conveyor) -> None:
    @app.job
    def with_meta(x: int, meta: Any) -> int:
        return x

    with pytest.raises(ValueError, match="'meta' is filled in by the worker"):
        with_meta(1, meta=None)
    record = app.get_job(with_meta(5).run_now().id)
    assert record is not None and record.args == [5] and record.kwargs == {}


def test_meta_job_is_this_jobs_record(app: Conveyor) -> None:
    seen: dict[str, Any] = {}

    @app.job
    def me(x: int, meta: Any) -> None:
        seen["id"], seen["state"], seen["args"] = meta.job.id, meta.job.state, meta.job.args

    h = me(3).run_now(key="k")
    drain(app)
    assert seen == {"id": h.id, "state": "running", "args": [3]}


def test_meta_jobs_triggers_other_jobs_by_attribute_and_by_id(app: Conveyor) -> None:
    @app.job("retry-request")
    def retry_request(n: int) -> int:
        return n * 10

    @app.job
    def parent(meta: Any) -> list[int]:
        a = meta.jobs.retry_request(1).run_now()
        b = meta.jobs["retry-request"](2).run_in(0, "seconds")
        return [a.id, b.id]

    h = parent().run_now()
    drain(app)
    children = h.result(timeout=5)
    assert [app.jobs_list(ids=[c])[0].result for c in children] == [10, 20]


def test_meta_log_lines_are_stored_with_the_run(app: Conveyor) -> None:
    @app.job(retry=Retry(retries=1, wait=0))
    def chatty(meta: Any) -> None:
        meta.log.info("starting %s", meta.attempt)
        meta.log.warning("careful")
        if meta.attempt == 1:
            meta.log.error("failing")
            raise RuntimeError("first attempt fails")
        meta.log.debug("done")

    h = chatty().run_now()
    drain(app)
    record = app.get_job(h.id)
    assert record is not None and record.state == "completed"
    lines = [(g.attempt, g.level, g.message) for g in record.logs]
    assert lines == [
        (1, "info", "starting 1"), (1, "warning", "careful"), (1, "error", "failing"),
        (2, "info", "starting 2"), (2, "warning", "careful"), (2, "debug", "done"),
    ]
    assert all(g.at.tzinfo is not None for g in record.logs)
    (listed,) = app.jobs_list(job="chatty")
    assert listed == record  # a listed record is as full as get_job's (logs included)


def _messages_of_a_run(app: Conveyor, job: Any) -> list[str]:
    """Run ``job`` (which returns "done") to its end; the messages it logged."""
    h = job().run_now()
    drain(app)
    assert h.result(timeout=5) == "done"
    record = app.get_job(h.id)
    assert record is not None
    return [g.message for g in record.logs]


def test_a_badly_formatted_log_line_is_stored_without_failing_the_job(app: Conveyor) -> None:
    @app.job
    def sloppy(meta: Any) -> str:
        meta.log.info("%d rows in %s", "many")
        return "done"

    assert _messages_of_a_run(app, sloppy) == ["%d rows in %s ('many',)"]


def test_meta_log_takes_loggings_keywords(app: Conveyor) -> None:
    @app.job
    def careful(meta: Any) -> str:
        meta.log.info("with extra", extra={"order": 7}, stacklevel=2)
        try:
            raise ValueError("bad row")
        except ValueError as exc:
            meta.log.error("caught", exc_info=True)
            meta.log.warning("given", exc_info=exc)
        meta.log.info({"not": "text"})
        return "done"

    extra, caught, given, obj = _messages_of_a_run(app, careful)
    assert extra == "with extra" and obj == "{'not': 'text'}"
    for line, first in ((caught, "caught"), (given, "given")):
        assert line.startswith(f"{first}\nTraceback") and line.endswith("ValueError: bad row")


def test_meta_progress_is_stored_as_a_fraction_with_its_message(app: Conveyor) -> None:
    @app.job
    async def slow(meta: Any) -> None:
        meta.progress(0.25)
        meta.progress(60, message="60 of 100 rows")
        raise RuntimeError("stop here so progress is not set to done")

    h = slow().run_now()
    drain(app)
    record = app.get_job(h.id)
    assert record is not None
    assert record.progress == pytest.approx(0.6)
    assert record.progress_message == "60 of 100 rows"


@pytest.mark.parametrize("value", [-1, 101, float("nan"), "50%"])
def test_meta_progress_refuses_values_out_of_range(app: Conveyor, value: object) -> None:
    @app.job
    def bad(meta: Any) -> None:
        meta.progress(value)

    h = bad().run_now()
    drain(app)
    with pytest.raises(JobFailed, match="progress"):
        h.result(timeout=5)


def test_include_registers_the_jobs_mapping(app: Conveyor) -> None:
    def save_image(data: dict[str, Any]) -> str:
        return data["url"]

    plugin = SimpleNamespace(jobs={"saveImage/local": save_image}, cleanup=[])
    added = app.include(plugin)
    assert [d.id for d in added] == ["saveImage/local"]
    h = app.jobs["saveImage/local"]({"url": "u"}).run_now()
    drain(app)
    assert h.result(timeout=5) == "u"


def test_include_cleanup_purges_after_the_given_days(app: Conveyor) -> None:
    def now_job() -> None: ...

    def kept_job() -> None: ...

    app.include(SimpleNamespace(
        jobs={"save-image/local": now_job, "keep/me": kept_job},
        cleanup=[{"type": "save-image/local", "purge_after_days": 0},
                 {"type": "keep/me", "purge_after_days": 7}],
    ))
    gone = app.jobs["save-image/local"]().run_now()
    kept = app.jobs["keep/me"]().run_now()
    drain(app)
    app.purge(expired=True)  # a burst worker's maintenance may already have purged it
    assert app.get_job(gone.id) is None
    assert app.get_job(kept.id) is not None


@pytest.mark.parametrize("policy", [
    {"purge_after_days": 7}, {"type": "x", "purge_after_days": -1},
    {"type": "x", "purge_after_days": "7"}, "x",
])
def test_include_refuses_a_bad_cleanup_policy(app: Conveyor, policy: object) -> None:
    with pytest.raises(ValueError, match="include\\(\\)"):
        app.include(SimpleNamespace(jobs={}, cleanup=[policy]))


def test_include_refuses_jobs_that_are_not_a_mapping(app: Conveyor) -> None:
    with pytest.raises(ValueError, match="'jobs' must be a dict"):
        app.include(SimpleNamespace(jobs=[print]))


def test_add_worker_done_completes_the_job_with_its_message(app: Conveyor) -> None:
    seen: dict[str, Any] = {}

    def worker(job: Any) -> None:
        seen.update(id=job.id, type=job.type, data=job.data)
        job.log.info("working")
        job.progress(50)
        job.done("all good")

    app.add_worker(type="sendEmail", worker=worker)
    h = app.schedule_job(type="sendEmail", data={"to": "a@b.c"})
    drain(app)
    assert seen == {"id": h.id, "type": "sendEmail", "data": {"to": "a@b.c"}}
    record = app.get_job(h.id)
    assert record is not None and record.state == "completed"
    assert record.result == "all good"
    assert [g.message for g in record.logs] == ["working"]


def test_add_worker_fail_retries_per_the_retry_options_then_fails(app: Conveyor) -> None:
    async def worker(job: Any) -> None:
        job.fail(f"no such shop (attempt {job.attempt})")

    app.add_worker(type="syncShop", worker=worker)
    h = app.schedule_job(type="syncShop", data={"shop_id": 1},
                         retry={"retries": 3, "wait": 0})
    drain(app)
    record = app.get_job(h.id)
    assert record is not None and record.state == "failed"
    assert record.attempts == 4  # job.fail retries, as in Reaction
    assert record.error is not None and record.error["message"] == "no such shop (attempt 4)"
    assert [a.error["message"] for a in record.history if a.error] == [
        f"no such shop (attempt {n})" for n in range(1, 5)]


def test_add_worker_raising_fail_fails_for_good(app: Conveyor) -> None:
    def worker(job: Any) -> None:
        raise Fail("gone for good")

    app.add_worker(type="syncShop", worker=worker)
    h = app.schedule_job(type="syncShop", data={}, retry={"retries": 3, "wait": 0})
    drain(app)
    record = app.get_job(h.id)
    assert record is not None and record.state == "failed" and record.attempts == 1


def test_add_worker_exception_fails_the_job_like_fail(app: Conveyor) -> None:
    def worker(job: Any) -> None:
        raise ValueError(f"bad data {job.data['n']}")

    app.add_worker(type="crunch", worker=worker)
    h = app.schedule_job(type="crunch", data={"n": 4})
    drain(app)
    with pytest.raises(JobFailed) as info:
        h.result(timeout=5)
    assert info.value.error["message"] == "bad data 4"
    assert info.value.error["type"] == "ValueError"


def test_a_job_without_a_definition_in_the_worker_fails_clearly(app: Conveyor) -> None:
    # stored by code that defines it; the worker's app does not
    known = JobDefinition(app=app, id="known", fn=lambda: None, options=JobOptions())
    h = JobHandle(app, app.triggering.insert([app.triggering.new_job(known())])[0])
    drain(app)
    with pytest.raises(JobFailed, match="no job 'known' is defined in this worker's app"):
        h.result(timeout=5)
