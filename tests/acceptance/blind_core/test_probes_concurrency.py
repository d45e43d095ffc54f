"""Blind probes across SPEC §1-5 and §8: concurrent triggers, dedupe and queries; every
store."""

from __future__ import annotations

import asyncio
import math
import re
import threading
from collections.abc import Callable
from datetime import timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from conveyor import Conveyor, JobFailed, PayloadError, Retry
from tests.acceptance.blind_core.support import START, due, field, in_threads, record
from tests.conformance.helpers import ManualClock, drain, worker_thread


def test_a_running_job_with_a_live_worker_is_not_pending(app: Conveyor) -> None:
    started, release = threading.Event(), threading.Event()

    @app.job
    def blocker(n: int) -> int:
        if n == 1:
            started.set()
            release.wait(10)
        return n

    running = blocker(1).run_now(key="k")
    with worker_thread(app, concurrency=1):
        assert started.wait(10)
        unique = blocker(2).run_now(key="k", unique=True)
        assert unique.id != running.id
        blocker(3).run_now(key="k", replace=True)
        assert record(app, running).state == "running"
        assert record(app, unique).state == "cancelled"
        release.set()
        assert running.result(timeout=10) == 1


def test_payload_is_the_single_positional_argument_even_with_kwargs(app: Conveyor) -> None:
    @app.job
    def job(payload: Any, extra: int = 0) -> None: ...

    handle = job({"shop": "ü"}, extra=2).run_now()
    assert app.cancel_jobs(data={"extra": 2}) == 0
    assert app.cancel_jobs(data={"shop": "ü"}) == 1
    assert record(app, handle).state == "cancelled"


def test_kwargs_payload_paths_and_depth(make: Callable[..., Conveyor]) -> None:
    app = make(max_depth=2)

    @app.job
    def job(a: Any = None, b: Any = None) -> None: ...

    job(a={"x": 1}, b=[2]).run_now()
    with pytest.raises(PayloadError, match=re.escape('payload["b"][1]')):
        job(a={}, b=[1, "\x00"]).run_now()
    with pytest.raises(PayloadError):
        job(a={"x": [1]}).run_now()
    assert app.count() == 1


def test_cancelling_a_waiting_durable_run_stops_it(capp: Conveyor, clock: ManualClock) -> None:
    after: list[str] = []

    @capp.job
    async def flow(payload: Any, io: Any) -> None:
        await io.wait("nap", 1, "day")
        after.append("woke")

    handle = flow({}).run_now()
    drain(capp)
    assert record(capp, handle).state == "waiting"
    capp.cancel(handle.id)
    clock.advance(days=2)
    drain(capp)
    assert record(capp, handle).state == "cancelled"
    assert after == []


def test_a_bad_durable_wait_fails_the_run_and_zero_continues(app: Conveyor) -> None:
    @app.job
    async def bad(payload: Any, io: Any) -> None:
        await io.wait("w", -1, "days")

    @app.job
    async def zero(payload: Any, io: Any) -> str:
        await io.wait("w", 0, "seconds")
        return "on"

    failing, continuing = bad({}).run_now(), zero({}).run_now()
    drain(app)
    assert record(app, failing).state == "failed"
    assert continuing.result(timeout=30) == "on"


def test_event_filters_compare_json_values_not_python_equality(app: Conveyor) -> None:
    got: list[Any] = []

    @app.job("flagged", trigger=app.event("flag", filter={"on": [True], "n": [0]}))
    async def flagged(payload: Any, io: Any) -> None:
        got.append(payload)

    for payload in [{"on": 1, "n": 0}, {"on": True, "n": False}, {"on": "true", "n": 0},
                    {"on": True, "n": 0}]:
        app.send_event("flag", payload)
    drain(app)
    assert got == [{"on": True, "n": 0}]


def test_an_exception_type_with_hostile_name_is_stored(app: Conveyor) -> None:
    class Hostile(Exception):
        pass

    Hostile.__module__, Hostile.__qualname__ = "mod\x00ule\ud800", "Q\x00ual\udc00"

    @app.job
    def job() -> None:
        raise Hostile("msg")

    handle = job().run_now()
    drain(app)
    rec = record(app, handle)
    assert rec.state == "failed"
    text = str(field(rec.error, "type")) + str(field(rec.error, "traceback"))
    assert not {chr(0), chr(0xD800), chr(0xDC00)} & set(text)


def test_a_sync_attempt_past_its_timeout_is_failed(app: Conveyor) -> None:
    @app.job
    def slow() -> str:
        threading.Event().wait(1.5)
        return "late"

    handle = slow().run_now(timeout=0.2)
    drain(app)
    with pytest.raises(JobFailed):
        handle.result(timeout=30)


def test_add_worker_handle_pauses_and_resumes(app: Conveyor) -> None:
    seen: list[Any] = []
    handle = app.add_worker(type="pausable", worker=lambda job: seen.append(job.data))
    handle.pause()
    job = app.schedule_job(type="pausable", data={"n": 1})
    drain(app)
    assert record(app, job).state == "queued"
    handle.resume()
    drain(app)
    assert seen == [{"n": 1}]
    assert record(app, job).state == "completed"


def test_result_with_zero_timeout(app: Conveyor) -> None:
    @app.job
    def job() -> list[int]:
        return [0]

    handle = job().run_now()
    with pytest.raises(TimeoutError):
        handle.result(timeout=0)
    drain(app)
    assert handle.result(timeout=0) == [0]


def test_wrong_arguments_are_refused_at_trigger_time(app: Conveyor) -> None:
    @app.job
    def one(x: int) -> None: ...

    for call in (lambda: one(), lambda: one(1, 2), lambda: one(y=1)):
        with pytest.raises(TypeError):
            call().run_now()  # type: ignore[no-untyped-call]
    assert app.count() == 0


def test_concurrent_unique_triggers_store_one_job(app: Conveyor) -> None:
    @app.job
    def job(n: int) -> None: ...

    handles = in_threads(8, lambda i: job(i).run_now(key="same", unique=True))
    assert not [h for h in handles if isinstance(h, BaseException)]
    assert len({h.id for h in handles}) == 1
    assert app.count() == 1


def test_concurrent_replace_triggers_leave_one_pending(app: Conveyor) -> None:
    @app.job
    def job(n: int) -> None: ...

    handles = in_threads(8, lambda i: job(i).run_now(key="same", replace=True))
    assert not [h for h in handles if isinstance(h, BaseException)]
    assert app.count(state="queued") == 1
    assert app.count(state="cancelled") == 7


def test_apps_opened_at_once_on_a_new_store(tmp_path: Any, request: pytest.FixtureRequest,
                                            store_url: str) -> None:
    if store_url.startswith("memory"):
        pytest.skip("a memory store lives only in its app")
    url = (f"sqlite:///{tmp_path}/fresh.db" if store_url.startswith("sqlite")
           else str(request.getfixturevalue("pg_url")))
    apps = in_threads(4, lambda i: Conveyor(url))
    try:
        assert not [a for a in apps if isinstance(a, BaseException)]
        first: Conveyor = apps[0]

        @first.job
        def job() -> None: ...

        handle = job().run_now()
        assert record(apps[-1], handle).state == "queued"
    finally:
        for a in apps:
            if isinstance(a, Conveyor):
                a.close()


def test_jobs_list_by_time_range_in_any_timezone(capp: Conveyor, clock: ManualClock) -> None:
    @capp.job
    def job(n: int) -> None: ...

    for n in range(4):
        job(n).run_now()
        clock.advance(hours=1)
    india = ZoneInfo("Asia/Kolkata")
    since = (START + timedelta(minutes=30)).astimezone(india)
    until = (START + timedelta(hours=2, minutes=30)).astimezone(india)
    found = capp.jobs_list(since=since, until=until)
    assert sorted(r.args[0] for r in found) == [1, 2]
    assert capp.count(since=since, until=until) == 2


def test_jobs_list_paging_rejects_negative_limits(app: Conveyor) -> None:
    @app.job
    def job(n: int) -> None: ...

    for n in range(5):
        job(n).run_now()
    assert len(app.jobs_list(limit=2)) == 2
    assert len(app.jobs_list(limit=10, offset=3)) == 2
    assert app.jobs_list(job="nope") == []
    for bad in ({"limit": -1}, {"offset": -1}):
        with pytest.raises(ValueError):
            app.jobs_list(**bad)  # type: ignore[arg-type]


def test_retry_wait_in_words_and_timedeltas(capp: Conveyor, clock: ManualClock) -> None:
    @capp.job
    def job() -> None:
        raise RuntimeError("again")

    waits: dict[str | timedelta, float] = {
        "1 minute": 60.0, "1.5 hours": 5400.0, "2 days": 172800.0,
        timedelta(milliseconds=1500): 1.5}
    handles = {w: job().run_now(retry=Retry(retries=1, wait=w)) for w in waits}
    drain(capp)
    for wait, seconds in waits.items():
        assert (due(capp, handles[wait]) - START).total_seconds() == seconds, wait


def test_async_jobs_trigger_with_await_and_wait_times_out(app: Conveyor) -> None:
    @app.job
    def child(x: str) -> str:
        return x * 2

    @app.job
    async def parent(meta: Any) -> Any:
        handle = await meta.jobs.child("é").run_now()
        return handle.id

    async def main() -> None:
        never = await child("z").run_in(1, "year")
        with pytest.raises(TimeoutError):
            await never.wait(timeout=0.05)

    asyncio.run(main())
    handle = parent().run_now()
    drain(app)
    assert record(app, handle.result(timeout=30)).result == "éé"


def test_replace_only_touches_the_same_owner(app: Conveyor) -> None:
    @app.job
    def job(n: int) -> None: ...

    theirs = job(1).run_now(key="k", owner="b")
    mine = job(2).run_now(key="k", owner="a")
    job(3).run_now(key="k", owner="a", replace=True)
    assert record(app, theirs).state == "queued"
    assert record(app, mine).state == "cancelled"


def test_equal_priority_runs_oldest_due_first_not_oldest_created(
        capp: Conveyor, clock: ManualClock) -> None:
    order: list[str] = []

    @capp.job
    def job(name: str) -> None:
        order.append(name)

    job("due-third").run_in(10, "seconds")
    job("due-second").run_in(5, "seconds")
    job("due-first").run_at(START - timedelta(days=365))
    clock.advance(seconds=20)
    job("due-last").run_now()
    drain(capp, concurrency=1)
    assert order == ["due-first", "due-second", "due-third", "due-last"]


def test_a_waiting_run_resumes_in_a_new_process(store_url: str) -> None:
    if store_url.startswith("memory"):
        pytest.skip("a memory store lives only in its app")
    clock = ManualClock(START)

    def define(app: Conveyor) -> Any:
        @app.job("sleeper")
        async def sleeper(payload: Any, io: Any) -> Any:
            first = await io.task("first", lambda: payload["n"] + 1)
            await io.wait("nap", 3, "days")
            return first

        return sleeper

    with Conveyor(store_url, clock=clock) as before:
        handle = define(before)({"n": 41}).run_now()
        drain(before)
        assert record(before, handle).state == "waiting"
    clock.advance(days=3)
    with Conveyor(store_url, clock=clock) as after:
        define(after)
        drain(after)
        assert record(after, handle.id).result == 42


def test_a_result_json_cannot_hold_fails_only_that_attempt(app: Conveyor) -> None:
    """SPEC says the attempt fails; whether it is retried is left open (docs/limits.md:
    not retried, it would fail the same way), so both are accepted here."""
    @app.job
    def job(meta: Any) -> Any:
        return "ok" if meta.attempt == 2 else {"bad": math.inf}

    @app.job
    def after() -> str:
        return "worker carried on"

    handle = job().run_now(retry=Retry(retries=1, wait=0))
    drain(app)
    rec = record(app, handle)
    assert (rec.state, rec.attempts, rec.result) in {("completed", 2, "ok"), ("failed", 1, None)}
    assert "PayloadError" in str(field(field(rec.history[0], "error"), "type"))
    assert "result" in str(field(field(rec.history[0], "error"), "message"))
    later = after().run_now()
    drain(app)
    assert later.result(timeout=30) == "worker carried on"


def test_add_worker_job_logs_progress_and_stop(app: Conveyor) -> None:
    def work(job: Any) -> None:
        job.log.info("wörk %d", 1)
        job.progress(50)
        job.done()

    handle = app.add_worker(type="reporting", worker=work)
    done = app.schedule_job(type="reporting", data=None)
    drain(app)
    rec = record(app, done)
    assert rec.state == "completed"
    assert rec.progress is not None
    assert any("wörk 1" in str(getattr(x, "message", x)) for x in rec.logs)
    handle.stop()
    later = app.schedule_job(type="reporting", data=None)
    drain(app)
    assert record(app, later).state != "completed"
