"""Blind acceptance tests of SPEC §1-2 (the app, defining jobs), written from SPEC alone
with inputs its examples do not use. Each runs on the memory, SQLite and PostgreSQL stores."""

from __future__ import annotations

import asyncio
import math
from datetime import timedelta
from types import SimpleNamespace
from typing import Any

import pytest

from conveyor import (
    Conveyor,
    Fail,
    JobHandle,
    PayloadError,
)
from tests.acceptance.blind_core.support import (
    START,
    field,
    record,
)
from tests.conformance.helpers import ManualClock, drain


def test_reopening_a_store_keeps_its_jobs(store_url: str) -> None:
    if store_url.startswith("memory"):
        pytest.skip("a memory store lives only in its app")
    with Conveyor(store_url) as first:
        @first.job("naïve-ünïcode")
        def job(x: Any) -> Any:
            return x

        handle = job("ok").run_now()
    with Conveyor(store_url) as second, Conveyor(store_url) as third:
        assert record(second, handle.id).state == "queued"
        assert record(third, handle.id).job == "naïve-ünïcode"


def test_async_with_opens_and_closes(store_url: str) -> None:
    async def main() -> str:
        async with Conveyor(store_url) as app:
            @app.job
            async def echo(x: str) -> str:
                return x

            handle = await echo("\u2028").run_now()
            assert isinstance(handle, JobHandle)
            return record(app, handle).state

    assert asyncio.run(main()) == "queued"


def test_a_given_clock_decides_due_times(capp: Conveyor, clock: ManualClock) -> None:
    ran: list[int] = []

    @capp.job
    def tick(n: int) -> None:
        ran.append(n)

    tick(1).run_in(59, "minutes")
    tick(2).run_in(0, "seconds")
    drain(capp)
    assert ran == [2]
    clock.advance(minutes=59)
    drain(capp)
    assert ran == [2, 1]


def test_job_id_defaults_to_the_function_name_and_the_registry_finds_it(app: Conveyor) -> None:
    @app.job
    def ŝtrange_name(x: int) -> int:
        return x + 1

    assert app.jobs["ŝtrange_name"] is app.jobs.ŝtrange_name
    handle = app.jobs["ŝtrange_name"](41).run_now()
    assert record(app, handle).job == "ŝtrange_name"
    drain(app)
    assert handle.result(timeout=30) == 42


def test_two_ids_with_one_slug_are_refused_at_definition(app: Conveyor) -> None:
    @app.job("Send Report")
    def first() -> None: ...

    with pytest.raises(Exception, match=r"(?i)slug|send"):
        @app.job("send-report")
        def second() -> None: ...


def test_a_duplicate_id_is_refused(app: Conveyor) -> None:
    @app.job("dup")
    def first() -> None: ...

    with pytest.raises(Exception, match="dup"):
        @app.job("dup")
        def second() -> None: ...


def test_every_run_records_its_version(app: Conveyor) -> None:
    @app.job("versioned", name="Versioned ✓", version="10.0.0-rc.1+build.5")
    def versioned() -> None: ...

    handle = versioned().run_now()
    drain(app)
    assert record(app, handle).version == "10.0.0-rc.1+build.5"


def test_sync_jobs_run_off_the_event_loop(app: Conveyor) -> None:
    seen: list[bool] = []

    @app.job
    def blocking() -> None:
        try:
            asyncio.get_running_loop()
        except RuntimeError:
            seen.append(True)
        else:
            seen.append(False)

    blocking().run_now()
    drain(app)
    assert seen == [True]


def test_meta_gives_attempt_log_and_progress(app: Conveyor) -> None:
    @app.job
    def fraction(meta: Any) -> int:
        meta.log.info("línea ✓ %s", "uno")
        meta.progress(0.25, message="a quarter ¼")
        return int(meta.attempt)

    @app.job
    def percent(meta: Any) -> None:
        meta.progress(25)

    h1, h2 = fraction().run_now(), percent().run_now()
    drain(app)
    assert h1.result(timeout=30) == 1
    first, second = record(app, h1), record(app, h2)
    assert first.progress == second.progress
    assert any("línea ✓ uno" in str(getattr(line, "message", line)) for line in first.logs)


def test_meta_jobs_triggers_other_jobs_by_attribute_and_by_id(capp: Conveyor,
                                                              clock: ManualClock) -> None:
    @capp.job("child-job")
    def child(x: Any) -> Any:
        return x

    @capp.job
    def parent(meta: Any) -> list[str]:
        later = meta.jobs["child-job"]({"ü": []}).run_in(1.5, "hours")
        now = meta.jobs.child_job(None).run_now()
        return [later.id, now.id]

    handle = parent().run_now()
    drain(capp)
    later_id, now_id = handle.result(timeout=30)
    assert record(capp, now_id).state == "completed"
    assert record(capp, later_id).run_at == START + timedelta(hours=1.5)


def test_add_worker_receives_data_and_marks_done(app: Conveyor) -> None:
    got: list[Any] = []

    def work(job: Any) -> None:
        got.append((job.type, job.data))
        job.done("fine ✓")

    app.add_worker(type="ünique/Type", worker=work)
    data = {"deep": [{"x": [None, True, 1.5, "é"]}], "": ""}
    handle = app.schedule_job(type="ünique/Type", data=data)
    drain(app)
    assert got == [("ünique/Type", data)]
    assert record(app, handle).state == "completed"


def test_add_worker_exception_fails_and_is_retried(app: Conveyor) -> None:
    calls: list[int] = []

    async def work(job: Any) -> None:
        calls.append(1)
        raise RuntimeError("bröken")

    app.add_worker(type="flaky", worker=work)
    handle = app.schedule_job(type="flaky", data={}, retry={"retries": 2, "wait": 0})
    drain(app)
    assert len(calls) == 3
    rec = record(app, handle)
    assert rec.state == "failed"
    assert "bröken" in str(field(rec.error, "message"))


def test_add_worker_fail_raised_is_final(app: Conveyor) -> None:
    def work(job: Any) -> None:
        raise Fail("no way")

    app.add_worker(type="final", worker=work)
    handle = app.schedule_job(type="final", data={"a": 1}, retry={"retries": 5, "wait": 0})
    drain(app)
    rec = record(app, handle)
    assert (rec.state, rec.attempts) == ("failed", 1)


def test_include_registers_a_plugins_jobs(app: Conveyor) -> None:
    got: list[Any] = []
    plugin = SimpleNamespace(jobs={"retryRequest": lambda data: got.append(data)})
    app.include(plugin)
    handle = app.schedule_job(type="retryRequest", data={"url": "http://ex/ä"})
    drain(app)
    assert got == [{"url": "http://ex/ä"}]
    assert record(app, handle).state == "completed"


def test_payload_json_cannot_hold_is_refused_at_trigger_time(app: Conveyor) -> None:
    @app.job
    def take(x: Any) -> None: ...

    for bad in [{1, 2}, object(), b"bytes", math.nan, math.inf, complex(1, 2)]:
        with pytest.raises(PayloadError):
            take({"ok": [1, bad]}).run_now()
    assert app.count() == 0
