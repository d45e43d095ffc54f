"""SPEC §2 — defining jobs: ids and slugs, options, meta, the registry and include()
(Reaction-style workers: test_add_worker)."""

from __future__ import annotations

import asyncio
import threading
from types import SimpleNamespace
from typing import Any

import pytest

from conveyor import Conveyor, Fail, Retry, slugify
from conveyor.testing import FakeClock, run_until_idle


def test_the_id_is_the_name_or_the_first_argument(app: Conveyor) -> None:
    @app.job
    def plain() -> None: ...

    @app.job("ünïcode id ✓")
    def named() -> None: ...

    assert app.get_job(plain().run_now().id).job == "plain"  # type: ignore[union-attr]
    assert app.get_job(named().run_now().id).job == "ünïcode id ✓"  # type: ignore[union-attr]
    assert app.jobs["ünïcode id ✓"] is named
    assert app.jobs.plain is plain


def test_decorator_options_reach_every_trigger(app: Conveyor) -> None:
    @app.job("retry-request", retry=Retry(retries=5, wait=60, backoff="exponential"),
             priority="high", timeout=300, retention="7 days", queue="exports")
    async def retry_request(request: object, meta: object) -> None: ...

    record = app.get_job(retry_request({"u": 1}).run_now().id)
    low = app.get_job(retry_request({"u": 1}).run_now(priority="low", queue="other").id)
    assert record is not None and low is not None
    assert record.queue == "exports" and record.max_attempts == 6
    assert low.queue == "other" and low.priority != record.priority  # trigger options win


def test_the_same_id_twice_is_an_error(sqlite_app: Conveyor) -> None:
    @sqlite_app.job("dup")
    def first() -> None: ...

    with pytest.raises(ValueError) as caught:
        @sqlite_app.job("dup")
        def second() -> None: ...

    assert "dup" in str(caught.value)


@pytest.mark.parametrize(("job_id", "why"), [
    ("a\x00b", "NUL"), ("a\ud800b", "surrogate"), ("x" * 513, "at most 512 bytes"),
    ("é" * 257, "at most 512 bytes"),
])
def test_a_job_id_no_store_can_hold_is_refused_at_definition(
    sqlite_app: Conveyor, job_id: str, why: str
) -> None:
    with pytest.raises(ValueError, match=why):
        sqlite_app.job(job_id)(lambda: None)
    assert job_id not in sqlite_app.jobs


def test_the_longest_ids_keys_and_owners_work_with_dedupe(app: Conveyor) -> None:
    """512 bytes of job id with 1,024 of key and 1,024 of owner, none compressible: the
    dedupe index holds all three on every store."""
    import random
    import string

    pick = random.Random(7)

    def text(n: int) -> str:
        return "".join(pick.choice(string.ascii_letters + string.digits) for _ in range(n))

    job_id, key, owner = text(512), text(1024), text(1024)
    job = app.job(job_id)(lambda: "ran")
    first = job().run_now(key=key, owner=owner, unique=True)
    assert job().run_now(key=key, owner=owner, unique=True) == first
    second = job().run_now(key=key, owner=owner, replace=True)
    run_until_idle(app)
    assert [app.get_job(h.id).state for h in (first, second)] == ["cancelled", "completed"]  # type: ignore[union-attr]


def test_two_ids_with_one_slug_are_an_error_at_definition(sqlite_app: Conveyor) -> None:
    assert slugify("Send Email") == slugify("send-email")

    @sqlite_app.job("Send Email")
    def one() -> None: ...

    with pytest.raises(ValueError) as caught:
        @sqlite_app.job("send-email")
        def two() -> None: ...

    assert "Send Email" in str(caught.value) and "send-email" in str(caught.value)


def test_sync_jobs_run_off_the_event_loop(app: Conveyor) -> None:
    seen: dict[str, object] = {}

    @app.job
    def sync_job() -> None:
        try:
            asyncio.get_running_loop()
        except RuntimeError:
            seen["loop"] = None
        else:
            seen["loop"] = "running loop!"
        seen["thread"] = threading.current_thread().name

    sync_job().run_now()
    run_until_idle(app)
    assert seen["loop"] is None


def test_version_is_recorded_on_every_run(app: Conveyor) -> None:
    @app.job(name="Ünïcode display name", version="1.2.0-rc.1+build.5")
    def versioned() -> None: ...

    handle = versioned().run_now()
    run_until_idle(app)
    assert app.get_job(handle.id).version == "1.2.0-rc.1+build.5"  # type: ignore[union-attr]


# -- meta ------------------------------------------------------------------------------------


def test_meta_gives_the_record_jobs_log_progress_and_attempt(app: Conveyor) -> None:
    @app.job("retry-request")
    def retry_request(n: int) -> int:
        return n

    @app.job
    def parent(meta: object) -> dict[str, object]:
        m = meta  # type: ignore[assignment]
        m.log.info("stärting %s", "ü")  # type: ignore[attr-defined]
        m.log.warning("")  # type: ignore[attr-defined]
        m.progress(0.5, message="half way — ½")  # type: ignore[attr-defined]
        later = m.jobs.retry_request(1).run_in(30, "seconds")  # type: ignore[attr-defined]
        now = m.jobs["retry-request"](2).run_now()  # type: ignore[attr-defined]
        return {"job": m.job.id, "attempt": m.attempt, "later": later.id,  # type: ignore[attr-defined]
                "now": now.id}

    with FakeClock(app) as clock:
        handle = parent().run_now()
        run_until_idle(app, clock=clock)
        result = handle.result(timeout=0)
        assert result["job"] == handle.id and result["attempt"] == 1
        assert app.get_job(result["later"]).state == "scheduled"  # type: ignore[union-attr]
        assert app.get_job(result["now"]).state == "completed"  # type: ignore[union-attr]
    record = app.get_job(handle.id)
    assert record is not None
    assert any("stärting ü" in str(line) for line in record.logs)
    assert record.progress is not None


@pytest.mark.parametrize("value", [0.5, 50])
def test_progress_takes_a_fraction_or_a_percent(app: Conveyor, value: float) -> None:
    @app.job
    def half(meta: object) -> None:
        meta.progress(value, message="½ — halfway")  # type: ignore[attr-defined]
        raise Fail("stop here, so the progress is not the 100% of a completed job")

    handle = half().run_now()
    run_until_idle(app)
    progress = app.get_job(handle.id).progress  # type: ignore[union-attr]
    assert progress == 0.5 or progress == 50 or "50" in str(progress)


def test_progress_out_of_range_says_what_is_accepted(app: Conveyor) -> None:
    @app.job
    def too_far(meta: object) -> None:
        meta.progress(150)  # type: ignore[attr-defined]

    handle = too_far().run_now()
    run_until_idle(app)
    error = str(app.get_job(handle.id).error)  # type: ignore[union-attr]
    assert "150" in error and "0..1" in error and "100" in error


# -- include ---------------------------------------------------------------------------------


def test_include_registers_jobs_and_cleanup_policies(app: Conveyor) -> None:
    def retry_request(data: object) -> object:
        return data

    plugin = SimpleNamespace(
        jobs={"retryRequest": retry_request},
        cleanup=[{"type": "retryRequest", "purge_after_days": 7},
                 {"type": "other/type", "purgeAfterDays": 1}],
    )
    app.include(plugin)
    with FakeClock(app) as clock:
        handle = app.schedule_job(type="retryRequest", data={"ü": 1})
        run_until_idle(app, clock=clock)
        assert handle.result(timeout=0) == {"ü": 1}
        clock.advance(6, "days")
        run_until_idle(app, clock=clock)
        assert app.get_job(handle.id) is not None
        clock.advance(1, "day")
        clock.advance(2, "hours")
        run_until_idle(app, clock=clock)
        assert app.get_job(handle.id) is None


def test_an_included_cleanup_policy_purges_jobs_that_finished_before_it(
    app: Conveyor,
) -> None:
    """Jobs of the type finished (and their worker went) before the plugin was included:
    the first worker after the policy's days have passed purges them."""

    @app.job("save-image/local")
    def save_image(data: Any) -> Any:
        return data

    with FakeClock(app) as clock:
        before = save_image({"n": 1}).run_now()
        run_until_idle(app, clock=clock)
        app.include({"jobs": {}, "cleanup": [{"type": "save-image/local",
                                              "purge_after_days": 7}]})
        clock.advance(8, "days")
        run_until_idle(app, clock=clock)
        assert app.get_job(before.id) is None


def test_include_refuses_a_policy_without_its_days(sqlite_app: Conveyor) -> None:
    plugin = SimpleNamespace(jobs={}, cleanup=[{"type": "x"}])
    with pytest.raises(ValueError) as caught:
        sqlite_app.include(plugin)
    assert "purge_after_days" in str(caught.value)


def test_include_takes_a_mapping_like_a_module(app: Conveyor) -> None:
    def retry_request(data: Any) -> Any:
        return data

    plugin = {"name": "plugin", "jobs": {"retryRequest": retry_request},
              "cleanup": [{"type": "retryRequest", "purgeAfterDays": 7}]}
    assert [d.id for d in app.include(plugin)] == ["retryRequest"]
    handle = app.jobs["retryRequest"]({"a": 1}).run_now()
    run_until_idle(app)
    assert handle.result(timeout=30) == {"a": 1}


@pytest.mark.parametrize("worker", [None, 5, "fn", {"a": 1}])
def test_a_worker_or_job_that_is_not_a_function_is_refused(
    sqlite_app: Conveyor, worker: object
) -> None:
    with pytest.raises(ValueError, match="function"):
        sqlite_app.add_worker(type="someUniqueJobType", worker=worker)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="function"):
        sqlite_app.include({"jobs": {"plugin/job": worker}})
    assert "someUniqueJobType" not in sqlite_app.jobs


def test_a_callable_without_a_name_needs_an_id(sqlite_app: Conveyor) -> None:
    class Resize:
        def __call__(self, path: str) -> str:
            return path

    with pytest.raises(ValueError, match="id"):
        sqlite_app.job(Resize())
    with pytest.raises(ValueError, match="id"):
        sqlite_app.job()(Resize())
    assert sqlite_app.job("resize")(Resize()).id == "resize"


def test_ctx_without_io_is_refused_at_definition(sqlite_app: Conveyor) -> None:
    with pytest.raises(ValueError, match="io"):
        @sqlite_app.job
        def plain(payload: Any, ctx: Any) -> None: ...

    assert "plain" not in sqlite_app.jobs

    @sqlite_app.job
    async def durable(payload: Any, io: Any, ctx: Any) -> int:
        return int(ctx.attempt)

    assert "durable" in sqlite_app.jobs


def test_meta_io_and_ctx_may_come_before_the_jobs_own_parameters(app: Conveyor) -> None:
    @app.job
    def sync_first(meta: Any, path: str, size: int = 1) -> list[Any]:
        return [meta.attempt, path, size]

    @app.job
    async def async_first(meta: Any, path: str) -> list[Any]:
        return [meta.attempt, path]

    @app.job
    async def durable_first(io: Any, ctx: Any, path: str, *, n: int = 0) -> list[Any]:
        return [await io.task("t", str.upper, path), ctx.attempt, n]

    handles = [sync_first("a.png", 3).run_now(), sync_first("b.png").run_now(),
               async_first("c.png").run_now(), durable_first("d.png", n=2).run_now()]
    run_until_idle(app)
    assert [h.result(timeout=30) for h in handles] == [
        [1, "a.png", 3], [1, "b.png", 1], [1, "c.png"], ["D.PNG", 1, 2]]


def test_an_injected_parameter_before_positional_only_ones_is_refused(
        sqlite_app: Conveyor) -> None:
    with pytest.raises(ValueError, match="'meta' comes before the job's own parameters"):
        @sqlite_app.job
        def odd(meta: Any, /, *paths: str) -> None: ...
