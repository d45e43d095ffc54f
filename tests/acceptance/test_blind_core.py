"""Blind acceptance tests of SPEC §1-5 and §8, written from SPEC alone with inputs its
examples do not use: odd but valid values, boundaries, and invalid input that must get
one clear error. Every test runs on the memory, SQLite and PostgreSQL stores."""

from __future__ import annotations

import asyncio
import contextlib
import math
import os
import re
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta, timezone
from types import SimpleNamespace
from typing import Any
from zoneinfo import ZoneInfo

import pytest

import conveyor
from conveyor import (
    Conveyor,
    Fail,
    FetchRefused,
    JobFailed,
    JobHandle,
    JobRecord,
    PayloadError,
    Retry,
    RetryIn,
)
from tests.conformance.helpers import ManualClock, drain, worker_thread

START = datetime(2031, 1, 31, 23, 30, tzinfo=UTC)
UNITS = ("millisecond", "second", "minute", "hour", "day", "week", "month", "quarter",
         "year")


@pytest.fixture
def make(new_app: Callable[..., Conveyor]) -> Callable[..., Conveyor]:
    """Opens an app with options on an empty store of each kind (memory, SQLite, PG)."""
    return new_app


@pytest.fixture
def app(make: Callable[..., Conveyor]) -> Conveyor:
    return make()


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(START)


@pytest.fixture
def capp(make: Callable[..., Conveyor], clock: ManualClock) -> Conveyor:
    """An app whose time moves only when the test moves ``clock``."""
    return make(clock=clock)


def record(app: Conveyor, handle: Any) -> JobRecord:
    """The record of a handle or of a job id."""
    found = app.get_job(handle.id if isinstance(handle, JobHandle) else handle)
    assert found is not None
    return found


def due(app: Conveyor, handle: Any) -> datetime:
    """The due time of a handle's (or a job id's) record, which must have one."""
    run_at = record(app, handle).run_at
    assert run_at is not None
    return run_at


def field(error: Any, name: str) -> Any:
    """A stored error's ``type``/``message``/``traceback``, whether an object or a dict."""
    return error[name] if isinstance(error, dict) else getattr(error, name)


def error_text(app: Conveyor, handle: JobHandle) -> str:
    error = record(app, handle).error
    assert error is not None
    return f"{field(error, 'type')}: {field(error, 'message')}"


def ok_or_value_error(trigger: Callable[[], JobHandle]) -> JobHandle | None:
    """Where SPEC is silent on a magnitude: stored as given, or one clear ValueError."""
    try:
        return trigger()
    except ValueError:
        return None


def in_threads(n: int, target: Callable[[int], Any]) -> list[Any]:
    """Run ``target(i)`` in ``n`` threads released at once; their results (or errors)."""
    barrier = threading.Barrier(n)
    results: list[Any] = [None] * n

    def run(i: int) -> None:
        barrier.wait()
        try:
            results[i] = target(i)
        except BaseException as exc:  # handed back to the test
            results[i] = exc

    threads = [threading.Thread(target=run, args=(i,)) for i in range(n)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    return results


WORKER_MODULE = '''
import os, time
from conveyor import Conveyor

app = Conveyor(os.environ["BLIND_URL"], lease=1)


@app.job
def stuck(name, meta):
    if meta.attempt == 1:
        open(os.path.join(os.environ["BLIND_MARKS"], name), "w").close()
        time.sleep(60)
    return meta.attempt
'''


def killed_while_running(store_url: str, tmp_path: Any, app: Conveyor,
                         names: list[str]) -> None:
    """Run ``stuck(name)`` for each of ``names`` in a worker process, kill it -9 while
    they run, and wait for their leases (1 s) to expire."""
    (tmp_path / "blind_worker.py").write_text(WORKER_MODULE)
    marks = tmp_path / "marks"
    marks.mkdir()
    env = {**os.environ, "BLIND_URL": store_url, "BLIND_MARKS": str(marks),
           "PYTHONPATH": os.pathsep.join([str(tmp_path), os.getcwd()])}
    worker = subprocess.Popen(
        [sys.executable, "-c", "import blind_worker; blind_worker.app.run_worker("
         f"concurrency={len(names)}, burst=True)"], env=env, cwd=tmp_path)
    try:
        deadline = time.monotonic() + 20
        while len(list(marks.iterdir())) < len(names):
            assert time.monotonic() < deadline and worker.poll() is None
            time.sleep(0.05)
        assert app.count(state="running") == len(names)
    finally:
        os.kill(worker.pid, signal.SIGKILL)
        worker.wait(10)
    time.sleep(1.5)


# -- §1 the app ------------------------------------------------------------------------------


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


# -- §2 defining jobs --------------------------------------------------------------------------


def test_job_id_defaults_to_the_function_name_and_the_registry_finds_it(app: Conveyor) -> None:
    @app.job
    def ŝtrange_name(x: int) -> int:
        return x + 1

    assert app.jobs["ŝtrange_name"] is app.jobs.ŝtrange_name
    handle = app.jobs["ŝtrange_name"](41).run_now()
    assert record(app, handle).job == "ŝtrange_name"
    drain(app)
    assert handle.result(timeout=5) == 42


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
    assert h1.result(timeout=5) == 1
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
    later_id, now_id = handle.result(timeout=5)
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


# -- §3 triggering -----------------------------------------------------------------------------


def test_run_now_stores_before_returning(app: Conveyor) -> None:
    @app.job
    def job(a: Any, b: Any = None) -> None: ...

    handle = job("", b={"k": [[], {}]}).run_now()
    rec = record(app, handle)
    assert rec.state == "queued"
    assert list(rec.args) == [""]
    assert rec.kwargs == {"b": {"k": [[], {}]}}


def test_run_at_stores_the_same_instant_in_utc(app: Conveyor) -> None:
    @app.job
    def job() -> None: ...

    for tz in [ZoneInfo("Asia/Kathmandu"), timezone(timedelta(hours=-11)),
               ZoneInfo("America/St_Johns")]:
        when = datetime(2032, 2, 29, 0, 0, 0, 123000, tzinfo=tz)
        rec = record(app, job().run_at(when))
        assert rec.run_at == when, tz
        assert rec.run_at.utcoffset() == timedelta(0)
        assert rec.state == "scheduled"


def test_naive_run_at_is_utc_under_a_utc_app(app: Conveyor) -> None:
    @app.job
    def job() -> None: ...

    rec = record(app, job().run_at(datetime(2040, 6, 1, 12, 0)))
    assert rec.run_at == datetime(2040, 6, 1, 12, 0, tzinfo=UTC)


def test_naive_run_at_under_another_timezone_is_a_value_error(
        make: Callable[..., Conveyor]) -> None:
    app = make(timezone="Pacific/Chatham")

    @app.job
    def job() -> None: ...

    with pytest.raises(ValueError):
        job().run_at(datetime(2040, 6, 1, 12, 0))
    aware = job().run_at(datetime(2040, 6, 1, 12, 0, tzinfo=ZoneInfo("Pacific/Chatham")))
    assert record(app, aware).run_at == datetime(2040, 6, 1, 12, 0,
                                                 tzinfo=ZoneInfo("Pacific/Chatham"))
    assert app.count() == 1


def test_every_unit_singular_and_plural(capp: Conveyor) -> None:
    @capp.job
    def job() -> None: ...

    for unit in UNITS:
        one = due(capp, job().run_in(1, unit))
        many = due(capp, job().run_in(1, unit + "s"))
        assert one == many > START, unit


def test_fractional_and_large_exact_steps(capp: Conveyor) -> None:
    @capp.job
    def job() -> None: ...

    for n, unit, delta in [(0.5, "millisecond", timedelta(microseconds=500)),
                           (1e-3, "seconds", timedelta(milliseconds=1)),
                           (1.25, "minutes", timedelta(seconds=75)),
                           (0, "hours", timedelta(0)),
                           (0.5, "week", timedelta(days=3.5)),
                           (10_000, "days", timedelta(days=10_000))]:
        assert record(capp, job().run_in(n, unit)).run_at == START + delta, (n, unit)


@pytest.mark.parametrize(("start", "n", "unit", "expected"), [
    (datetime(2031, 1, 31, 23, 30, tzinfo=UTC), 1, "month", datetime(2031, 2, 28, 23, 30)),
    (datetime(2032, 1, 31, 23, 30, tzinfo=UTC), 1, "month", datetime(2032, 2, 29, 23, 30)),
    (datetime(2031, 11, 30, 6, 0, tzinfo=UTC), 1, "quarter", datetime(2032, 2, 29, 6, 0)),
    (datetime(2032, 2, 29, 0, 0, tzinfo=UTC), 1, "year", datetime(2033, 2, 28, 0, 0)),
    (datetime(2031, 3, 31, 0, 0, tzinfo=UTC), 13, "months", datetime(2032, 4, 30, 0, 0)),
])
def test_calendar_steps_clamp_to_month_end(make: Callable[..., Conveyor], start: datetime,
                                           n: int, unit: str, expected: datetime) -> None:
    app = make(clock=ManualClock(start))

    @app.job
    def job() -> None: ...

    assert record(app, job().run_in(n, unit)).run_at == expected.replace(tzinfo=UTC)


def test_bad_run_in_is_a_value_error(app: Conveyor) -> None:
    @app.job
    def job() -> None: ...

    for n, unit in [(1, "fortnight"), (1, ""), (1, "SECONDS!"), (-1, "second"),
                    (-0.001, "day"), (math.inf, "seconds"), (math.nan, "minutes"),
                    (-math.inf, "hours"), (0.5, "month"), (1.5, "years")]:
        with pytest.raises(ValueError):
            job().run_in(n, unit)
    assert app.count() == 0


def test_unknown_unit_error_lists_the_accepted_units(app: Conveyor) -> None:
    @app.job
    def job() -> None: ...

    with pytest.raises(ValueError) as caught:
        job().run_in(3, "fortnights")
    assert all(unit in str(caught.value) for unit in ("millisecond", "quarter", "year"))


def test_trigger_options_are_stored(app: Conveyor) -> None:
    @app.job
    def job() -> None: ...

    handle = job().run_now(priority="critical", queue="очередь", key="🔑", owner="user-ü")
    rec = record(app, handle)
    assert (rec.queue, rec.key, rec.owner) == ("очередь", "🔑", "user-ü")
    system = [record(app, job().run_now(owner=o)).owner for o in (0, None)]
    assert system[0] == system[1]


def test_replace_cancels_pending_jobs_of_the_same_key_only(app: Conveyor) -> None:
    @app.job
    def job(n: int) -> None: ...

    old = [job(i).run_now(key="k") for i in range(3)]
    other_key = job(9).run_now(key="K")
    empty_key = job(10).run_now(key="")
    new = job(99).run_now(key="k", replace=True)
    assert [record(app, h).state for h in old] == ["cancelled"] * 3
    assert record(app, other_key).state == "queued"
    assert record(app, empty_key).state == "queued"
    assert record(app, new).state == "queued"


def test_replace_with_no_key_matches_every_pending_job_of_the_id(app: Conveyor) -> None:
    @app.job
    def job(n: int) -> None: ...

    @app.job
    def other() -> None: ...

    old = [job(1).run_now(key="a"), job(2).run_now()]
    bystander = other().run_now()
    job(3).run_now(replace=True)
    assert [record(app, h).state for h in old] == ["cancelled", "cancelled"]
    assert record(app, bystander).state == "queued"


def test_replace_leaves_finished_jobs_alone(app: Conveyor) -> None:
    @app.job
    def job() -> None: ...

    done = job().run_now(key="x")
    drain(app)
    job().run_now(key="x", replace=True)
    assert record(app, done).state == "completed"


def test_unique_returns_the_existing_pending_job_per_key_and_owner(app: Conveyor) -> None:
    @app.job
    def job(n: int) -> None: ...

    first = job(1).run_now(key="ключ", unique=True)
    again = job(2).run_now(key="ключ", unique=True)
    other_owner = job(3).run_now(key="ключ", unique=True, owner="someone")
    assert again.id == first.id
    assert other_owner.id != first.id
    assert app.count() == 2


def test_schedule_job_passes_data_as_the_single_argument(app: Conveyor) -> None:
    got: list[Any] = []

    @app.job("reaction-style")
    def job(data: Any, meta: Any) -> None:
        got.append((data, meta.attempt))
        if meta.attempt == 1:
            raise RuntimeError("first try fails")

    data = {"nested": {"list": [1, [2, [3]]]}, "big": 2**62, "tiny": 5e-324}
    handle = app.schedule_job(type="reaction-style", data=data, priority="normal",
                              retry={"retries": 1, "wait": 0, "backoff": "exponential"})
    assert isinstance(handle, JobHandle)
    drain(app)
    assert got == [(data, 1), (data, 2)]
    assert record(app, handle).state == "completed"


def test_schedule_cron_job_returns_a_handle(app: Conveyor) -> None:
    @app.job
    def nightly(data: Any) -> None: ...

    handle = app.schedule_cron_job("nightly", "0 3 * * *", data={"ü": 1}, owner="u1")
    assert isinstance(handle, JobHandle)


def test_awaiting_a_trigger_and_waiting_for_it(app: Conveyor) -> None:
    @app.job
    async def double(x: float) -> float:
        return x * 2

    async def main() -> Any:
        handle = await double(-0.5).run_now()
        worker = asyncio.create_task(app.run_worker_async(burst=True))
        result = await handle.wait(timeout=10)
        await worker
        return result

    assert asyncio.run(main()) == -1.0


def test_result_times_out_on_a_job_that_never_runs(app: Conveyor) -> None:
    @app.job
    def job() -> None: ...

    with pytest.raises(TimeoutError):
        job().run_in(1, "year").result(timeout=0.05)


def test_result_raises_job_failed_for_failed_and_cancelled(app: Conveyor) -> None:
    @app.job
    def boom() -> None:
        raise KeyError("ключ")

    failed = boom().run_now()
    cancelled = boom().run_in(1, "day")
    app.cancel(cancelled.id)
    drain(app)
    with pytest.raises(JobFailed) as caught:
        failed.result(timeout=5)
    assert "ключ" in str(caught.value)
    with pytest.raises(JobFailed):
        cancelled.result(timeout=5)


# -- §4 running, failing, finding --------------------------------------------------------------


ODD_VALUES = ["", "😀\u2028\u2029\t\"\\'", 2**63, -(2**63) - 1, 10**30, 1e308, 5e-324, -0.5,
              [], {}, None, True, {"": {"": [None, [], {}]}}, "x" * 100_000,
              {"key with spaces and ü": ["日本語", "עברית"]}]


def test_results_and_arguments_round_trip(app: Conveyor) -> None:
    @app.job
    def echo(x: Any) -> Any:
        return x

    handles = [echo(value).run_now() for value in ODD_VALUES]
    drain(app)
    for value, handle in zip(ODD_VALUES, handles, strict=True):
        assert handle.result(timeout=5) == value
        rec = record(app, handle)
        assert rec.result == value
        assert list(rec.args) == [value]


def test_states_through_a_life(capp: Conveyor, clock: ManualClock) -> None:
    @capp.job
    def job(fail: bool) -> None:
        if fail:
            raise ValueError("x")

    later, ok, bad, gone = (job(False).run_in(1, "ms"), job(False).run_now(),
                            job(True).run_now(), job(False).run_now())
    capp.cancel(gone.id)
    assert record(capp, later).state == "scheduled"
    assert record(capp, ok).state == "queued"
    drain(capp)
    assert [record(capp, h).state for h in (later, ok, bad, gone)] == [
        "scheduled", "completed", "failed", "cancelled"]


def test_every_datetime_is_aware_utc(app: Conveyor) -> None:
    @app.job
    def job() -> None:
        raise ValueError("x")

    handle = job().run_now(retry=Retry(retries=1, wait=0))
    drain(app)
    rec = record(app, handle)
    stamps = [rec.run_at, rec.created_at, rec.started_at, rec.finished_at]
    for attempt in rec.history:
        stamps += [field(attempt, "started_at"), field(attempt, "finished_at")]
    assert all(s is not None and s.utcoffset() == timedelta(0) for s in stamps)


def test_an_exception_stores_type_message_and_traceback_per_attempt(app: Conveyor) -> None:
    @app.job
    def job(meta: Any) -> None:
        raise LookupError(f"attempt {meta.attempt} ✗")

    handle = job().run_now(retry=Retry(retries=2, wait=timedelta(0)))
    drain(app)
    rec = record(app, handle)
    assert (rec.state, rec.attempts, rec.max_attempts) == ("failed", 3, 3)
    assert isinstance(rec.attempts, int)
    assert [field(a, "number") for a in rec.history] == [1, 2, 3]
    assert [str(field(field(a, "error"), "message")) for a in rec.history] == [
        "attempt 1 ✗", "attempt 2 ✗", "attempt 3 ✗"]
    assert "LookupError" in str(field(rec.error, "type"))
    assert "raise LookupError" in str(field(rec.error, "traceback"))


@pytest.mark.parametrize(("retry", "delays"), [
    (Retry(retries=4, wait=10, backoff="fixed"), [10, 10, 10, 10]),
    (Retry(retries=4, wait="10 seconds", backoff="linear"), [10, 20, 30, 40]),
    (Retry(retries=4, wait=timedelta(seconds=10), backoff="exponential"), [10, 20, 40, 80]),
    (Retry(retries=4, wait=10, backoff="exponential", max_wait="25 seconds"), [10, 20, 25, 25]),
    (Retry(retries=2, wait=0.25, backoff="linear"), [0.25, 0.5]),
], ids=["fixed", "linear", "exponential", "capped", "fractional"])
def test_retry_backoff_delays(capp: Conveyor, clock: ManualClock, retry: Retry,
                              delays: list[float]) -> None:
    @capp.job
    def job() -> None:
        raise RuntimeError("again")

    handle = job().run_now(retry=retry)
    seen: list[float] = []
    for _ in delays:
        drain(capp)
        rec = record(capp, handle)
        assert rec.state == "scheduled"
        seen.append((due(capp, handle) - clock.now()).total_seconds())
        clock.at = due(capp, handle)
    drain(capp)
    assert seen == delays
    assert record(capp, handle).state == "failed"


def test_jitter_stays_within_a_quarter(capp: Conveyor, clock: ManualClock) -> None:
    @capp.job
    def job() -> None:
        raise RuntimeError("again")

    handles = [job().run_now(retry=Retry(retries=1, wait=100, jitter=True)) for _ in range(12)]
    drain(capp)
    delays = {(due(capp, h) - clock.now()).total_seconds() for h in handles}
    assert all(75 <= d <= 125 for d in delays)
    assert len(delays) > 1


@pytest.mark.parametrize("options", [
    {"retries": -1}, {"backoff": "quadratic"}, {"wait": -5}, {"wait": "soon"},
    {"wait": math.nan}, {"max_wait": -1},
], ids=repr)
def test_an_invalid_retry_is_a_value_error(options: dict[str, Any]) -> None:
    with pytest.raises(ValueError):
        Retry(**options)


def test_an_unknown_priority_is_a_value_error(app: Conveyor) -> None:
    @app.job
    def job() -> None: ...

    for priority in ["urgent", "", "HIGHEST"]:
        with pytest.raises(ValueError):
            job().run_now(priority=priority)
    assert app.count() == 0


def test_fail_stops_retries_and_retry_in_reschedules(capp: Conveyor, clock: ManualClock) -> None:
    @capp.job
    def final() -> None:
        raise Fail("pourquoi ✗")

    @capp.job
    def later(meta: Any) -> int:
        if meta.attempt == 1:
            raise RetryIn(30)
        return int(meta.attempt)

    failed = final().run_now(retry=Retry(retries=9, wait=0))
    moved = later().run_now()
    drain(capp)
    assert (record(capp, failed).state, record(capp, failed).attempts) == ("failed", 1)
    assert "pourquoi ✗" in error_text(capp, failed)
    rec = record(capp, moved)
    assert (rec.state, rec.run_at) == ("scheduled", START + timedelta(seconds=30))
    clock.advance(seconds=30)
    drain(capp)
    assert moved.result(timeout=5) == 2


def test_a_timed_out_attempt_fails_and_is_retried(app: Conveyor) -> None:
    @app.job
    async def slow(meta: Any) -> str:
        if meta.attempt == 1:
            await asyncio.sleep(30)
        return "second"

    handle = slow().run_now(timeout=0.2, retry=Retry(retries=1, wait=0))
    drain(app)
    rec = record(app, handle)
    assert (rec.state, rec.attempts, rec.result) == ("completed", 2, "second")


def test_get_job_of_an_unknown_id_is_none(app: Conveyor) -> None:
    for unknown in ["", "no-such-id", "ü" * 300, "00000000-0000-0000-0000-000000000000",
                    "1; DROP TABLE jobs", "9" * 40, -1, 2**70]:
        assert app.get_job(unknown) is None, unknown  # type: ignore[arg-type]


def test_cancel_jobs_by_payload_subset(app: Conveyor) -> None:
    @app.job
    def sync(payload: Any) -> None: ...

    @app.job
    def by_kwargs(shop_id: int, name: str) -> None: ...

    sync({"shop_id": 1, "name": "ä"}).run_now()
    sync({"shop_id": 1, "tags": ["x"]}).run_in(1, "day")
    sync({"shop_id": 2}).run_now()
    sync({"shop_id": "1"}).run_now()
    sync({"shop_id": 1.5}).run_now()
    kw = by_kwargs(shop_id=1, name="b").run_now()
    assert app.cancel_jobs(data={"shop_id": 1}) == 3
    assert record(app, kw).state == "cancelled"
    assert app.cancel_jobs(data={"shop_id": 1}) == 0
    assert app.count(state="queued") == 3


def test_cancel_jobs_filters_combine_and_skip_finished(app: Conveyor) -> None:
    @app.job
    def job(x: Any) -> None: ...

    @app.job
    def other(x: Any) -> None: ...

    done = job({"u": "ü"}).run_now(owner="o")
    drain(app)
    job({"u": "ü"}).run_now(owner="o", key="k")
    job({"u": "ü"}).run_now(owner="p", key="k")
    other({"u": "ü"}).run_now(owner="o", key="k")
    assert app.cancel_jobs(type="job", owner="o", key="k", data={"u": "ü"}) == 1
    assert app.cancel_jobs(type="job", state="completed") == 0
    assert record(app, done).state == "completed"


def test_retry_of_a_failed_job_runs_it_again(app: Conveyor) -> None:
    flaky = {"fail": True}

    @app.job
    def job() -> str:
        if flaky["fail"]:
            raise RuntimeError("once")
        return "ok"

    handle = job().run_now()
    drain(app)
    assert record(app, handle).state == "failed"
    flaky["fail"] = False
    assert app.retry(handle.id)
    drain(app)
    assert handle.result(timeout=5) == "ok"
    assert len(record(app, handle).history) == 2


def test_jobs_list_and_count_filter(app: Conveyor) -> None:
    @app.job
    def job(n: int) -> None: ...

    for n in range(25):
        job(n).run_now(queue="q-é" if n % 2 else "default", owner=f"o{n % 3}")
    assert app.count() == 25
    assert app.count(queue="q-é") == 12
    assert app.count(owner="o0") == 9
    assert len(app.jobs_list(state="queued", queue="q-é")) == 12
    assert app.count(state="completed") == 0


def test_priorities_by_name_and_int_then_oldest_first(capp: Conveyor,
                                                      clock: ManualClock) -> None:
    order: list[str] = []

    @capp.job
    def job(name: str) -> None:
        order.append(name)

    for name, priority in [("low", "low"), ("normal1", "normal"), ("crit", "critical"),
                           ("medium", "medium"), ("normal2", "normal"), ("high", "high")]:
        job(name).run_now(priority=priority)
        clock.advance(milliseconds=1)
    drain(capp, concurrency=1)
    assert order == ["crit", "high", "medium", "normal1", "normal2", "low"]


def test_retention_purges_finished_jobs(capp: Conveyor, clock: ManualClock) -> None:
    @capp.job
    def job(fail: bool) -> None:
        if fail:
            raise ValueError("x")

    kept = job(False).run_now(retention="7 days")
    failed = job(True).run_now(retention="7 days")
    removed = job(False).run_now(remove_delay="1 hour")
    pending = job(False).run_in(30, "days", retention="1 day")
    drain(capp)
    clock.advance(hours=2)
    capp.purge(expired=True)
    assert capp.get_job(removed.id) is None
    assert capp.get_job(kept.id) is not None
    clock.advance(days=7)
    capp.purge(expired=True)
    assert capp.get_job(kept.id) is None
    assert capp.get_job(failed.id) is None
    assert capp.get_job(pending.id) is not None


# -- §5 durable jobs ---------------------------------------------------------------------------


def test_tasks_run_once_per_run_across_a_durable_wait(capp: Conveyor,
                                                      clock: ManualClock) -> None:
    calls: list[str] = []

    def load(x: str) -> dict[str, str]:
        calls.append(x)
        return {"value": x + "✓"}

    @capp.job
    async def flow(payload: Any, io: Any) -> Any:
        first = await io.task("load-ü", load, payload["id"])
        await io.wait("cool-off", 2.5, "days")
        second = await io.task("load-again", load, "b")
        return [first, second]

    handle = flow({"id": "a"}).run_now()
    drain(capp)
    assert record(capp, handle).state == "waiting"
    clock.advance(days=2.5)
    drain(capp)
    assert handle.result(timeout=5) == [{"value": "a✓"}, {"value": "b✓"}]
    assert calls == ["a", "b"]


def test_reusing_a_task_key_with_other_arguments_is_an_error(app: Conveyor) -> None:
    @app.job
    async def flow(payload: Any, io: Any) -> None:
        await io.task("same", lambda x: x, 1)
        await io.task("same", lambda x: x, 2)

    handle = flow({}).run_now()
    drain(app)
    assert record(app, handle).state == "failed"


def test_except_exception_cannot_swallow_a_durable_wait(capp: Conveyor) -> None:
    caught: list[BaseException] = []

    @capp.job
    async def flow(payload: Any, io: Any) -> str:
        try:
            await io.wait("nap", 1, "week")
        except Exception:
            return "swallowed"
        except BaseException as exc:
            caught.append(exc)
            raise
        return "woke"

    handle = flow(None).run_now()
    drain(capp)
    assert record(capp, handle).state == "waiting"
    assert caught and all(conveyor.is_internal(exc) for exc in caught)
    assert not conveyor.is_internal(RuntimeError("x"))


def test_ctx_carries_version_and_attempt(app: Conveyor) -> None:
    @app.job("ctx-job", version="0.0.1")
    async def flow(payload: Any, io: Any, ctx: Any) -> list[Any]:
        return [ctx.version, ctx.attempt]

    handle = flow([]).run_now()
    drain(app)
    assert handle.result(timeout=5) == ["0.0.1", 1]


def test_durable_logger_try_and_gather(app: Conveyor) -> None:
    @app.job
    async def flow(payload: Any, io: Any) -> Any:
        await io.logger.info("ünïcode line", n=1)
        await io.logger.log("as info")

        def broken() -> None:
            raise RuntimeError("inner")

        recovered = await io.try_(broken, lambda exc: f"handled {exc}")
        return recovered

    handle = flow({}).run_now()
    drain(app)
    assert handle.result(timeout=5) == "handled inner"
    lines = " ".join(str(getattr(line, "message", line)) for line in record(app, handle).logs)
    assert "ünïcode line" in lines and "as info" in lines


def test_gather_of_tasks_is_right_or_refused(app: Conveyor) -> None:
    @app.job
    async def flow(payload: Any, io: Any) -> Any:
        return list(await asyncio.gather(io.task("a", lambda: "A"), io.task("b", lambda: "B")))

    handle = flow({}).run_now()
    drain(app)
    rec = record(app, handle)
    if rec.state == "completed":
        assert rec.result == ["A", "B"]
    else:
        assert rec.state == "failed"
        assert field(rec.error, "message")


def test_background_fetch_refuses_non_http_schemes(app: Conveyor) -> None:
    urls = ["file:///etc/passwd", "ftp://example.com/x", "gopher://x", "javascript:alert(1)",
            "HTTP"]

    @app.job
    async def flow(payload: Any, io: Any) -> list[str]:
        outcomes = []
        for n, url in enumerate(urls):
            try:
                await io.background_fetch(f"fetch-{n}", url)
            except FetchRefused:
                outcomes.append("refused")
            else:
                outcomes.append("fetched")
        return outcomes

    handle = flow({}).run_now()
    drain(app)
    assert handle.result(timeout=5) == ["refused"] * len(urls)


def test_events_start_matching_runs_once_per_id(app: Conveyor) -> None:
    got: list[Any] = []

    @app.job("on-signup", trigger=app.event("üser.créated",
                                             filter={"plan": ["pro", "téam"],
                                                     "org": {"tier": [1, 2]}}))
    async def on_signup(payload: Any, io: Any) -> None:
        got.append(payload)

    matching = {"plan": "téam", "org": {"tier": 2, "x": None}, "extra": [1]}
    app.send_event("üser.créated", matching, id="évent-1")
    app.send_event("üser.créated", matching, id="évent-1")
    app.send_event("üser.créated", {"plan": "free", "org": {"tier": 1}})
    app.send_event("üser.created", matching)
    app.send_event("üser.créated", {"plan": "pro", "org": {"tier": 10**40}})
    app.send_event("üser.créated", {"plan": "pro", "org": {"tier": 1e300}})
    app.send_event("üser.créated", {"plan": "pro"})
    drain(app)
    assert got == [matching]


# -- §8 limits and hostile input ---------------------------------------------------------------


def test_nul_and_lone_surrogates_are_refused_naming_the_path(app: Conveyor) -> None:
    @app.job
    def job(x: Any) -> None: ...

    for payload, path in [({"a": [0, 1, 2, "nul\x00"]}, 'payload["a"][3]'),
                          ({"a": {"b": "\ud800"}}, 'payload["a"]["b"]'),
                          ({"ok": 1, "k\x00": 1}, "payload"),
                          (["\udfff"], "payload[0]")]:
        with pytest.raises(PayloadError) as caught:
            job(payload).run_now()
        assert path in str(caught.value)
    assert app.count() == 0


def test_depth_limit_is_exact(make: Callable[..., Conveyor]) -> None:
    app = make(max_depth=3)

    @app.job
    def job(x: Any) -> None: ...

    job({"a": {"b": [1]}}).run_now()
    with pytest.raises(PayloadError):
        job({"a": {"b": [[1]]}}).run_now()
    assert app.count() == 1


def test_default_depth_is_64(app: Conveyor) -> None:
    @app.job
    def job(x: Any) -> None: ...

    def nest(levels: int) -> Any:
        value: Any = "leaf"
        for _ in range(levels):
            value = [value]
        return value

    job(nest(64)).run_now()
    with pytest.raises(PayloadError):
        job(nest(65)).run_now()
    with pytest.raises(PayloadError):
        job(nest(10_000)).run_now()
    assert app.count() == 1


def test_payload_size_limit(make: Callable[..., Conveyor]) -> None:
    app = make(max_payload=2_000)

    @app.job
    def job(x: Any) -> None: ...

    @app.job
    def pair(a: str, b: str) -> None: ...

    job("é" * 500).run_now()
    with pytest.raises(PayloadError):
        job("x" * 5_000).run_now()
    with pytest.raises(PayloadError):
        pair(a="y" * 1_500, b="z" * 1_500).run_now()
    assert app.count() == 1


@pytest.mark.parametrize("result", ["nul\x00", {"x": ["\ud83d"]}, math.nan, {1, 2}], ids=repr)
def test_a_result_json_cannot_hold_fails_the_attempt(app: Conveyor, result: Any) -> None:
    @app.job
    def job() -> Any:
        return result

    handle = job().run_now()
    drain(app)
    rec = record(app, handle)
    assert rec.state == "failed"
    assert "PayloadError" in str(field(rec.error, "type"))


def test_hostile_text_is_sanitised_and_stored(app: Conveyor) -> None:
    @app.job
    def job(meta: Any) -> None:
        meta.log.info("log\x00line\ud800")
        meta.progress(0.5, message="prog\x00ress\udc00")
        raise RuntimeError("err\x00or\ud800" + "!" * 2_000_000)

    handle = job().run_now()
    drain(app)
    rec = record(app, handle)
    assert rec.state == "failed"
    message = str(field(rec.error, "message"))
    assert "\x00" not in message and "\ud800" not in message
    assert message.startswith("err\ufffdor\ufffd")
    assert len(message) < 2_000_000
    logs = " ".join(str(getattr(line, "message", line)) for line in rec.logs)
    assert "log\ufffdline\ufffd" in logs
    assert rec.progress_message == "prog\ufffdress\ufffd"


def test_hostile_event_names_and_unmatchable_numbers_never_fail(app: Conveyor) -> None:
    got: list[Any] = []

    @app.job("ev", trigger=app.event("n", filter={"v": [1, 2.5]}))
    async def ev(payload: Any, io: Any) -> None:
        got.append(payload["v"])

    sent = app.send_event("bad\x00name\ud800", {"v": 1})
    assert sent.name == "bad\ufffdname\ufffd"
    for v in [10**400, -(10**400), 1e308, "1", True, {"v": 1}, None, 2.5]:
        app.send_event("n", {"v": v})
    drain(app)
    assert got == [2.5]


def test_many_jobs_all_complete(app: Conveyor) -> None:
    lock = threading.Lock()
    seen: set[int] = set()

    @app.job
    def job(n: int) -> int:
        with lock:
            seen.add(n)
        return n * n

    handles = [job(n).run_now() for n in range(300)]
    drain(app)
    assert seen == set(range(300))
    assert app.count(state="completed") == 300
    assert handles[-1].result(timeout=5) == 299 * 299


# -- probes, second round ---------------------------------------------------------------------


def test_default_url_comes_from_the_environment(tmp_path: Any,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "ünï cöde" / "env.db"
    path.parent.mkdir()
    monkeypatch.setenv("CONVEYOR_URL", f"sqlite:///{path}")
    with Conveyor() as app:
        @app.job
        def job() -> None: ...

        job().run_now()
    assert path.exists()


@pytest.mark.parametrize("options", [{"timezone": "Mars/Olympus_Mons"}, {"timezone": ""},
                                     {"lease": 0}, {"lease": -1}, {"lease": math.nan}],
                         ids=repr)
def test_bad_app_options_are_value_errors(options: dict[str, Any]) -> None:
    with pytest.raises(ValueError):
        Conveyor("memory://", **options)


def test_an_unknown_url_scheme_is_a_value_error() -> None:
    with pytest.raises(ValueError, match="mysql"):
        Conveyor("mysql://localhost/db")


def test_meta_job_is_this_record_and_unknown_jobs_are_lookup_errors(app: Conveyor) -> None:
    @app.job
    def me(meta: Any) -> Any:
        return meta.job.id

    handle = me().run_now()
    drain(app)
    assert handle.result(timeout=5) == handle.id
    assert getattr(app.jobs, "no_such_job", None) is None
    with pytest.raises(KeyError):
        app.jobs["no-such-job"]


def test_an_id_without_a_slug_is_refused(app: Conveyor) -> None:
    for job_id in ["", "!!!", "   "]:
        with pytest.raises(ValueError):
            @app.job(job_id)
            def job() -> None: ...


def test_include_cleanup_policy_applies_to_jobs_finished_before(capp: Conveyor,
                                                                clock: ManualClock) -> None:
    @capp.job("save-image/local")
    def save(data: Any) -> None: ...

    @capp.job
    def other() -> None: ...

    old = save({"p": 1}).run_now()
    bystander = other().run_now()
    drain(capp)
    capp.include(SimpleNamespace(cleanup=[{"type": "save-image/local", "purgeAfterDays": 2}]))
    clock.advance(days=1)
    capp.purge(expired=True)
    assert capp.get_job(old.id) is not None
    clock.advance(days=1, seconds=1)
    capp.purge(expired=True)
    assert capp.get_job(old.id) is None
    assert capp.get_job(bystander.id) is not None


def test_awaiting_a_handle_gives_it_back(app: Conveyor) -> None:
    @app.job
    def job() -> None: ...

    async def main() -> tuple[JobHandle, JobHandle]:
        handle = job().run_now()
        return handle, await handle

    first, second = asyncio.run(main())
    assert second.id == first.id


def test_run_in_beyond_the_calendar_is_a_value_error(app: Conveyor) -> None:
    @app.job
    def job() -> None: ...

    for n, unit in [(10_000, "years"), (1e12, "seconds"), (10**20, "milliseconds"),
                    (1e300, "weeks")]:
        with pytest.raises(ValueError):
            job().run_in(n, unit)
    assert app.count() == 0


def test_far_future_and_far_past_run_at(app: Conveyor) -> None:
    @app.job
    def job() -> str:
        return "ran"

    last = datetime(9999, 12, 31, 23, 59, 58, 500000, tzinfo=UTC)
    far = job().run_at(last.astimezone(timezone(timedelta(hours=-12))))
    past = job().run_at(datetime(1, 1, 2, tzinfo=timezone(timedelta(hours=14))))
    for beyond in (datetime(9999, 12, 31, 23, 59, 59, tzinfo=UTC),
                   datetime(9999, 12, 31, 23, 59, 59, 999999, tzinfo=UTC)):
        with pytest.raises(ValueError, match="9999"):  # not stored with its due time lost
            job().run_at(beyond)
    drain(app)
    assert (record(app, far).state, record(app, far).run_at) == ("scheduled", last)
    assert past.result(timeout=5) == "ran"
    assert app.count() == 2


def test_non_string_keys_are_refused_rather_than_changed(app: Conveyor) -> None:
    @app.job
    def job(x: Any) -> None: ...

    for payload in [{1: "int key"}, {None: 1}, {"a": {2.5: "x"}}]:
        with pytest.raises(PayloadError):
            job(payload).run_now()
    assert app.count() == 0


def test_cancel_jobs_data_matches_json_values_exactly(app: Conveyor) -> None:
    @app.job
    def job(x: Any) -> None: ...

    hits = [job({"n": 2**63, "flag": True, "none": None, "f": 0.1}).run_now()]
    misses = [job({"n": 2**63 + 1, "flag": True, "none": None, "f": 0.1}).run_now(),
              job({"n": 2**63, "flag": 1, "none": None, "f": 0.1}).run_now(),
              job({"n": 2**63, "flag": True, "f": 0.1}).run_now(),
              job({"n": 2**63, "flag": True, "none": None, "f": 0.1000001}).run_now()]
    assert app.cancel_jobs(data={"n": 2**63, "flag": True, "none": None, "f": 0.1}) == 1
    assert record(app, hits[0]).state == "cancelled"
    assert [record(app, h).state for h in misses] == ["queued"] * 4
    assert app.cancel_jobs(data={"flag": 1}) == 1


def test_cancel_jobs_data_with_nested_and_list_values(app: Conveyor) -> None:
    @app.job
    def job(x: Any) -> None: ...

    nested = job({"a": {"b": [1, "ü"]}, "c": []}).run_now()
    other = job({"a": {"b": [1]}, "c": []}).run_now()
    assert app.cancel_jobs(data={"a": {"b": [1, "ü"]}, "c": []}) == 1
    assert record(app, nested).state == "cancelled"
    assert record(app, other).state == "queued"


def test_cancel_of_a_finished_job_changes_nothing(app: Conveyor) -> None:
    @app.job
    def job() -> int:
        return 7

    handle = job().run_now()
    drain(app)
    app.cancel(handle.id)
    assert record(app, handle).state == "completed"
    assert handle.result(timeout=1) == 7


def test_reaction_retry_wait_is_in_milliseconds(capp: Conveyor, clock: ManualClock) -> None:
    def work(job: Any) -> None:
        job.fail("nope")

    capp.add_worker(type="ms-wait", worker=work)
    handle = capp.schedule_job(type="ms-wait", data={},
                               retry={"retries": 2, "wait": 1500, "backoff": "exponential"})
    drain(capp)
    assert record(capp, handle).run_at == START + timedelta(seconds=1.5)
    clock.advance(seconds=1.5)
    drain(capp)
    assert record(capp, handle).run_at == START + timedelta(seconds=4.5)


def test_cancel_repeats_cancels_pending_jobs_of_the_type(app: Conveyor) -> None:
    @app.job("repeat-me")
    def job(data: Any) -> None: ...

    old = app.schedule_job(type="repeat-me", data={"n": 1})
    new = app.schedule_job(type="repeat-me", data={"n": 2}, cancel_repeats=True)
    assert record(app, old).state == "cancelled"
    assert record(app, new).state == "queued"


def test_a_bad_crontab_is_a_value_error(app: Conveyor) -> None:
    @app.job
    def nightly(data: Any) -> None: ...

    for crontab in ["61 * * * *", "* * *", "", "every blue moon"]:
        with pytest.raises(ValueError):
            app.schedule_cron_job("nightly", crontab, data={})


def test_integer_priorities_order_runs(capp: Conveyor, clock: ManualClock) -> None:
    order: list[int] = []

    @capp.job
    def job(n: int) -> None:
        order.append(n)

    for n in (-5, 0, 1000, -1000, 7, 7):
        job(n).run_now(priority=n)
        clock.advance(microseconds=1)
    drain(capp, concurrency=1)
    assert order == [1000, 7, 7, 0, -5, -1000]


def test_a_task_with_retry_is_retried_inside_the_run(app: Conveyor) -> None:
    calls: list[int] = []

    def flaky() -> str:
        calls.append(1)
        if len(calls) < 3:
            raise RuntimeError("not yet")
        return "finally"

    @app.job
    async def flow(payload: Any, io: Any) -> Any:
        return await io.task("flaky", flaky, retry=Retry(retries=3, wait=0))

    handle = flow({}).run_now()
    drain(app)
    assert handle.result(timeout=5) == "finally"
    assert len(calls) == 3


def test_an_exception_whose_str_raises_is_still_stored(app: Conveyor) -> None:
    class Hostile(Exception):
        def __str__(self) -> str:
            raise RuntimeError("str failed")

    @app.job
    def job() -> None:
        raise Hostile()

    handle = job().run_now()
    drain(app)
    rec = record(app, handle)
    assert rec.state == "failed"
    assert "Hostile" in str(field(rec.error, "type"))


def test_a_result_too_big_or_too_deep_fails_the_attempt(make: Callable[..., Conveyor]) -> None:
    app = make(max_payload=1_000, max_depth=4)

    @app.job
    def big() -> str:
        return "x" * 2_000

    @app.job
    def deep() -> Any:
        return [[[[["five"]]]]]

    handles = [big().run_now(), deep().run_now()]
    drain(app)
    for handle in handles:
        assert "PayloadError" in str(field(record(app, handle).error, "type"))


def test_over_long_log_lines_are_truncated_with_a_marker(app: Conveyor) -> None:
    @app.job
    def job(meta: Any) -> None:
        meta.log.info("L" * 3_000_000)
        meta.progress(0.1, message="M" * 3_000_000)

    handle = job().run_now()
    drain(app)
    rec = record(app, handle)
    assert rec.state == "completed"
    line = next(str(getattr(x, "message", x)) for x in rec.logs if "LLL" in str(
        getattr(x, "message", x)))
    assert 100 < len(line) < 3_000_000
    assert rec.progress_message is not None
    assert 100 < len(rec.progress_message) < 3_000_000
    assert rec.progress_message.startswith("MMM")
    name = app.send_event("n" * 1_000_000, {}).name
    assert name.startswith("nnn") and len(name) < 1_000_000


# -- probes, third round: sizes and magnitudes the stores must survive ------------------------


def test_long_keys_queues_owners_and_ids(app: Conveyor) -> None:
    with pytest.raises(ValueError):  # an id is indexed: a clear limit, at definition
        @app.job("j" + "é" * 3_000)
        def too_long() -> None: ...

    long_id = "j" + "é" * 200

    @app.job(long_id)
    def job(x: Any) -> str:
        return "ok"

    for option in ("key", "queue", "owner"):
        with pytest.raises(ValueError):
            job(0).run_now(**{option: "x" * 5_000})  # type: ignore[arg-type]
    assert app.count() == 0
    key, queue, owner = "k" * 300 + "ü", "q" * 200 + "🚚", "o" * 250 + "é"
    first = job(1).run_now(key=key, queue=queue, owner=owner, unique=True)
    again = job(2).run_now(key=key, queue=queue, owner=owner, unique=True)
    assert again.id == first.id
    rec = record(app, first)
    assert (rec.job, rec.key, rec.queue, rec.owner) == (long_id, key, queue, owner)
    drain(app, queues=[queue])
    assert first.result(timeout=5) == "ok"


def test_huge_option_values_are_stored_or_refused_clearly(app: Conveyor) -> None:
    @app.job
    def job() -> str:
        return "ran"

    options: list[dict[str, Any]] = [
        {"priority": 10**20}, {"priority": -(2**63)}, {"owner": 2**70}, {"owner": -1},
        {"timeout": 1e300}, {"retention": 1e300}, {"remove_delay": 1e300},
        {"retry": {"retries": 2**40}}]
    handles = [ok_or_value_error(lambda o=o: job().run_now(**o))  # type: ignore[misc]
               for o in options]
    stored = [h for h in handles if h is not None]
    assert app.count() == len(stored)
    drain(app)
    assert [h.result(timeout=5) for h in stored] == ["ran"] * len(stored)


def test_invalid_option_values_are_value_errors(app: Conveyor) -> None:
    @app.job
    def job() -> None: ...

    for option in [{"timeout": -1}, {"timeout": math.nan}, {"retention": -5},
                   {"remove_delay": "-1 day"}, {"priority": math.inf}]:
        with pytest.raises(ValueError):
            job().run_now(**option)  # type: ignore[arg-type]
    assert app.count() == 0


def test_absurd_retry_delays_never_break_the_worker(capp: Conveyor) -> None:
    @capp.job
    def fails() -> None:
        raise RuntimeError("fails")

    delays = {"negative": -5, "nan": math.nan, "inf": math.inf, "huge": 1e300}

    @capp.job
    def moves(delay: str) -> None:
        raise RetryIn(delays[delay])

    @capp.job
    def fine() -> str:
        return "fine"

    handles = [ok_or_value_error(lambda w=w: fails().run_now(  # type: ignore[misc]
        retry=Retry(retries=3, wait=w, backoff="exponential"))) for w in (1e15, 1e300)]
    handles += [moves(name).run_now() for name in delays]
    other = fine().run_now()
    drain(capp)
    assert other.result(timeout=5) == "fine"
    for handle in handles:
        if handle is not None:
            assert record(capp, handle).state in ("scheduled", "failed")


def test_progress_that_json_cannot_hold_never_breaks_the_run(app: Conveyor) -> None:
    @app.job
    def job(meta: Any) -> str:
        for value in (math.nan, math.inf, -1, 1e300):
            with contextlib.suppress(ValueError):
                meta.progress(value)
        return "done"

    handle = job().run_now()
    drain(app)
    assert handle.result(timeout=5) == "done"
    progress = record(app, handle).progress
    assert progress is None or (isinstance(progress, (int, float, dict)) and progress == progress)


def test_an_unknown_state_filter_is_a_value_error(app: Conveyor) -> None:
    for state in ["finished", "", "QUEUED ", "done"]:
        with pytest.raises(ValueError):
            app.count(state=state)
        with pytest.raises(ValueError):
            app.cancel_jobs(state=state)


def test_send_event_refuses_a_payload_json_cannot_hold(app: Conveyor) -> None:
    with pytest.raises(PayloadError):
        app.send_event("evt", {"x": {1, 2}})
    with pytest.raises(PayloadError):
        app.send_event("evt", {"x": "nul\x00"})


def test_io_send_event_is_sent_once_across_replays(capp: Conveyor, clock: ManualClock) -> None:
    got: list[Any] = []

    @capp.job("listener", trigger=capp.event("ping.ü"))
    async def listener(payload: Any, io: Any) -> None:
        got.append(payload)

    @capp.job
    async def sender(payload: Any, io: Any) -> str:
        await io.send_event("send-1", "ping.ü", {"n": "ü" * 3})
        await io.wait("pause", 1, "minute")
        return "sent"

    handle = sender({}).run_now()
    drain(capp)
    clock.advance(minutes=1)
    drain(capp)
    assert handle.result(timeout=5) == "sent"
    assert got == [{"n": "üüü"}]


def test_a_task_result_json_cannot_hold_fails_the_run(app: Conveyor) -> None:
    @app.job
    async def flow(payload: Any, io: Any) -> Any:
        return await io.task("bad", lambda: {1, 2})

    handle = flow({}).run_now()
    drain(app)
    assert record(app, handle).state == "failed"


# -- probes, fourth round ---------------------------------------------------------------------


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
    assert continuing.result(timeout=5) == "on"


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
        handle.result(timeout=5)


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


# -- probes, fifth round: concurrency and queries ---------------------------------------------


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
    assert record(app, handle.result(timeout=5)).result == "éé"


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
    assert later.result(timeout=5) == "worker carried on"


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


# -- probes, sixth round -----------------------------------------------------------------------


def test_close_twice_is_harmless(make: Callable[..., Conveyor]) -> None:
    app = make()
    app.close()
    app.close()


def test_unique_with_no_key_matches_any_pending_job_of_the_id(app: Conveyor) -> None:
    @app.job
    def job(n: int) -> None: ...

    keyed = job(1).run_now(key="a")
    assert job(2).run_now(unique=True).id == keyed.id
    assert app.count() == 1


def test_unique_and_replace_together_is_a_value_error(app: Conveyor) -> None:
    @app.job
    def job() -> None: ...

    with pytest.raises(ValueError):
        job().run_now(key="k", unique=True, replace=True)
    assert app.count() == 0


def test_event_numbers_match_exactly_or_not_at_all(app: Conveyor) -> None:
    got: list[Any] = []

    @app.job("exact", trigger=app.event("num", filter={"n": [2**63, 0.3],
                                                        "org": {"tier": ["gold"]}}))
    async def exact(payload: Any, io: Any) -> None:
        got.append(payload["n"])

    @app.job("anything", trigger=app.event("num"))
    async def anything(payload: Any, io: Any) -> None:
        got.append(("any", payload))

    gold = {"tier": "gold"}
    for payload in [{"n": 2**63 + 1, "org": gold}, {"n": 0.1 + 0.2, "org": gold},
                    {"n": 2**63, "org": "gold"}, {"n": 2**63, "org": None},
                    {"n": 2**63, "org": {"tier": "golden"}}, ["n", 2**63], None,
                    {"n": 2**63, "org": gold}, {"n": 0.3, "org": gold}]:
        app.send_event("num", payload)
    drain(app)
    assert sorted(str(g) for g in got if not isinstance(g, tuple)) == sorted(
        [str(2**63), "0.3"])
    assert len([g for g in got if isinstance(g, tuple)]) == 9
    assert ("any", None) in got


def test_retention_covers_cancelled_and_remove_delay_only_completed(
        make: Callable[..., Conveyor], clock: ManualClock) -> None:
    app = make(clock=clock, retention="1 day")

    @app.job
    def job(fail: bool) -> None:
        if fail:
            raise ValueError("x")

    failed = job(True).run_now(remove_delay="1 hour", retention="30 days")
    completed = job(False).run_now()
    cancelled = job(False).run_in(1, "hour")
    app.cancel(cancelled.id)
    drain(app)
    clock.advance(hours=2)
    app.purge(expired=True)
    assert app.get_job(failed.id) is not None
    assert app.get_job(completed.id) is not None
    clock.advance(days=1)
    assert app.purge(expired=True) == 2
    assert app.get_job(cancelled.id) is None
    assert app.get_job(completed.id) is None
    assert app.get_job(failed.id) is not None


def test_purge_on_demand_by_state(app: Conveyor) -> None:
    @app.job
    def job(fail: bool) -> None:
        if fail:
            raise ValueError("x")

    failed, completed, pending = (job(True).run_now(), job(False).run_now(),
                                  job(False).run_in(1, "day"))
    drain(app)
    assert app.purge(state="failed") == 1
    assert app.get_job(failed.id) is None
    assert app.get_job(completed.id) is not None
    assert app.purge() == 1
    assert app.get_job(pending.id) is not None


# -- probes, seventh round ---------------------------------------------------------------------


def test_every_stored_time_comes_from_the_given_clock(capp: Conveyor) -> None:
    @capp.job
    def job(meta: Any) -> None:
        meta.log.warning("ü")
        raise ValueError("x")

    handle = job().run_now()
    drain(capp)
    rec = record(capp, handle)
    assert rec.created_at == rec.run_at == rec.started_at == rec.finished_at == START
    assert [field(a, "started_at") for a in rec.history] == [START]
    assert [x.at for x in rec.logs] == [START]


def test_job_failed_carries_the_stored_error(app: Conveyor) -> None:
    @app.job
    def job() -> None:
        raise PermissionError("dénied")

    handle = job().run_now()
    drain(app)
    with pytest.raises(JobFailed) as caught:
        handle.result()
    assert caught.value.error is not None
    assert field(caught.value.error, "message") == field(record(app, handle).error, "message")


def test_payload_error_names_the_offending_value(app: Conveyor) -> None:
    class Unstorable:
        def __repr__(self) -> str:
            return "<Unstorable ü>"

    @app.job
    def job(x: Any) -> None: ...

    with pytest.raises(PayloadError, match=re.escape('payload["deep"][0]["x"] is an Unstorable')):
        job({"deep": [{"x": Unstorable()}]}).run_now()


def test_default_limits_on_results(app: Conveyor) -> None:
    def nest(levels: int) -> Any:
        value: Any = 0
        for _ in range(levels):
            value = {"k": value}
        return value

    @app.job
    def result(kind: str) -> Any:
        return {"deep64": nest(63), "deep65": nest(66), "big": "x" * (2 * 1024 * 1024),
                "half": "y" * (512 * 1024)}[kind]

    handles = {kind: result(kind).run_now() for kind in ("deep64", "deep65", "big", "half")}
    drain(app)
    states = {kind: record(app, h).state for kind, h in handles.items()}
    assert states == {"deep64": "completed", "deep65": "failed", "big": "failed",
                      "half": "completed"}


def test_durable_logger_levels(app: Conveyor) -> None:
    @app.job
    async def flow(payload: Any, io: Any) -> None:
        await io.logger.debug("d-ü")
        await io.logger.warn("w-ü")
        await io.logger.error("e-ü")

    handle = flow({}).run_now()
    drain(app)
    messages = " ".join(x.message for x in record(app, handle).logs)
    assert all(m in messages for m in ("w-ü", "e-ü"))


def test_version_must_be_semver(app: Conveyor) -> None:
    for version in ("banana", "1.2", "v1.2.3", ""):
        with pytest.raises(ValueError):
            @app.job(f"job-{len(version)}-{version}", version=version)
            def job() -> None: ...


def test_a_job_longer_than_its_lease_runs_once(make: Callable[..., Conveyor]) -> None:
    app = make(lease=2)  # not 1: a loaded 2-core CI box may delay a heartbeat by a second
    runs: list[int] = []

    @app.job
    def long(meta: Any) -> str:
        runs.append(meta.attempt)
        threading.Event().wait(4.2)  # more than two leases
        return "done"

    handle = long().run_now()
    drain(app)
    assert handle.result(timeout=5) == "done"
    assert runs == [1]
    assert record(app, handle).attempts == 1


def test_acting_on_unknown_ids_and_types(app: Conveyor) -> None:
    assert app.cancel_jobs(type="never-defined") == 0
    assert not app.cancel(987_654_321)
    assert not app.retry(987_654_321)


# -- probes, eighth round ----------------------------------------------------------------------


def test_ids_sharing_a_slug_are_refused_whatever_the_spelling(app: Conveyor) -> None:
    spellings = ["Ünïcode Job", "unicode-job", "ünïcode_job", "UNICODE JOB", "unicode--job",
                 " unicode job "]
    taken: dict[str, str] = {}
    for n, spelling in enumerate(spellings):
        slug = conveyor.slugify(spelling)
        if slug in taken:
            with pytest.raises(ValueError):
                app.job(spelling)(lambda: None)
        else:
            def fn() -> None: ...

            fn.__name__ = f"fn{n}"
            app.job(spelling)(fn)
            taken[slug] = spelling
    assert len(taken) >= 1


def test_send_event_limits(make: Callable[..., Conveyor]) -> None:
    app = make(max_payload=1_000, max_depth=3)
    with pytest.raises(PayloadError):
        app.send_event("big", {"x": "y" * 2_000})
    with pytest.raises(PayloadError, match=re.escape('payload["a"]["b"]')):
        app.send_event("deep", {"a": {"b": [[1]]}})
    app.send_event("fine", {"a": {"b": [1]}})


def test_unwritable_numbers_and_cycles_are_payload_errors(app: Conveyor) -> None:
    @app.job
    def job(x: Any) -> None: ...

    cycle: list[Any] = []
    cycle.append(cycle)
    loop: dict[str, Any] = {}
    loop["self"] = loop
    for bad in (10**5000, cycle, loop, {"k": [1, {"\ud800": 1}]}):
        with pytest.raises(PayloadError):
            job(bad).run_now()
    job(10**400).run_now()
    assert app.count() == 1


def test_triggers_in_async_code_are_stored_however_they_are_written(app: Conveyor) -> None:
    @app.job
    def job(n: int) -> int:
        return n

    async def consume(handle: Any) -> Any:
        return handle

    async def main() -> list[Any]:
        plain = job(1).run_now()
        listed = [job(n).run_now() for n in (2,)]
        nested = await consume(job(3).run_now())
        direct = await job(4).run_now()
        later = job(5).run_in(1, "ms")
        gathered = await asyncio.gather(job(6).run_now(), job(7).run_now())
        chosen = await (job(8).run_now() if plain else job(0).run_now())
        awaited_later = await later
        return [plain, *listed, nested, direct, awaited_later, *gathered, chosen]

    handles = asyncio.run(main())
    ids = [getattr(h, "id", None) for h in handles]
    assert all(isinstance(i, int) for i in ids), ids
    assert sorted(record(app, i).args[0] for i in ids) == [1, 2, 3, 4, 5, 6, 7, 8]
    assert app.count() == 8


def test_awaited_triggers_raise_at_once_on_bad_input(app: Conveyor) -> None:
    @app.job
    def job(x: Any) -> None: ...

    async def main() -> None:
        with pytest.raises(ValueError):
            await job(1).run_in(-1, "seconds")
        with pytest.raises(PayloadError):
            await job({1, 2}).run_now()
        with pytest.raises(PayloadError):
            job({"nul": "\x00"}).run_now()

    asyncio.run(main())
    assert app.count() == 0


def test_a_job_whose_worker_is_killed_is_rescued_and_retried(store_url: str,
                                                              tmp_path: Any) -> None:
    if store_url.startswith("memory"):
        pytest.skip("a memory store lives only in its process")
    with Conveyor(store_url, lease=1) as app:
        @app.job
        def stuck(name: str, meta: Any) -> int:
            return int(meta.attempt)

        kept, replaced = stuck("kept").run_now(key="a"), stuck("replaced").run_now(key="b")
        killed_while_running(store_url, tmp_path, app, ["kept", "replaced"])
        assert stuck("again").run_now(key="a", unique=True).id == kept.id
        replacement = stuck("new").run_now(key="b", replace=True)
        drain(app)
        rec = record(app, kept)
        assert (rec.state, rec.result, rec.attempts) == ("completed", 2, 2)
        assert field(rec.history[0], "error") is not None
        assert record(app, replaced).state == "cancelled"
        assert replacement.result(timeout=5) == 1


def test_bad_limits_and_retention_options_are_value_errors() -> None:
    for options in ({"retention": "forever and ever"}, {"retention": -1},
                    {"max_depth": 0}, {"max_depth": -3}, {"max_payload": 0},
                    {"max_payload": -1}):
        with pytest.raises(ValueError):
            Conveyor("memory://", **options)


def test_scheduling_a_type_no_one_defined_is_one_clear_error(app: Conveyor) -> None:
    """SPEC is silent on types this app does not define; conveyor refuses them at trigger
    time (a typo is caught at once) rather than storing them for another process."""
    with pytest.raises(KeyError, match="handled-elsewhere"):
        app.schedule_job(type="handled-elsewhere", data={"ü": 1})
    assert app.count() == 0
    seen: list[Any] = []
    app.add_worker(type="handled-elsewhere", worker=lambda job: seen.append(job.data))
    app.schedule_job(type="handled-elsewhere", data={"ü": 1})
    drain(app)
    assert seen == [{"ü": 1}]


def test_many_writers_at_once_lose_nothing(store_url: str, make: Callable[..., Conveyor]) -> None:
    shared = store_url.startswith(("sqlite", "postgres"))
    apps = [make() for _ in range(1)]
    apps += [Conveyor(store_url) for _ in range(3)] if shared else apps * 3
    try:
        for a in dict.fromkeys(apps):  # the memory store: one app, written from 4 threads
            @a.job("write")
            def write(n: int) -> int:
                return n

        def burst(i: int) -> list[int]:
            return [apps[i].jobs["write"](i * 100 + n).run_now().id for n in range(30)]

        results = in_threads(4, burst)
        assert not [r for r in results if isinstance(r, BaseException)], results
        assert len({i for r in results for i in r}) == 120
        drain(apps[0], concurrency=8)
        assert apps[0].count(state="completed") == 120
    finally:
        for a in apps[1:] if shared else []:
            a.close()


def test_ctx_of_an_event_run_and_a_replayed_run(capp: Conveyor, clock: ManualClock) -> None:
    seen: list[list[Any]] = []

    @capp.job("ctx-évent", version="3.1.4", trigger=capp.event("ctx.ping"))
    async def on_ping(payload: Any, io: Any, ctx: Any) -> None:
        seen.append([ctx.run_id, ctx.job_id, ctx.version, ctx.attempt, bool(ctx.trigger)])
        await io.wait("later", 1, "hour")

    capp.send_event("ctx.ping", {"x": 1}, id="ctx-1")
    drain(capp)
    clock.advance(hours=1)
    drain(capp)
    assert len(seen) == 2 and seen[0] == seen[1]
    run_id, job_id, version, attempt, triggered = seen[0]
    assert (job_id, version, attempt, triggered) == ("ctx-évent", "3.1.4", 1, True)
    assert record(capp, run_id).state == "completed"


def test_schedule_cron_job_stores_its_next_occurrence(capp: Conveyor,
                                                     clock: ManualClock) -> None:
    got: list[Any] = []

    @capp.job("nightly-ü")
    def nightly(data: Any) -> None:
        got.append(data)

    handle = capp.schedule_cron_job("nightly-ü", "0 3 * * *", data={"shop": "ü"}, owner="u9")
    rec = record(capp, handle)
    assert (rec.job, rec.state, rec.owner) == ("nightly-ü", "scheduled", "u9")
    assert rec.run_at == datetime(2031, 2, 1, 3, 0, tzinfo=UTC)
    clock.at = rec.run_at
    drain(capp)
    assert got == [{"shop": "ü"}]


def test_falsy_task_results_are_replayed_not_rerun(capp: Conveyor, clock: ManualClock) -> None:
    calls: list[str] = []

    def falsy(kind: str) -> Any:
        calls.append(kind)
        return {"none": None, "false": False, "zero": 0, "empty": "", "list": []}[kind]

    @capp.job
    async def flow(payload: Any, io: Any) -> Any:
        got = [await io.task(k, falsy, k) for k in ("none", "false", "zero", "empty", "list")]

        async def failing_task() -> None:  # io.try_ runs again on replay (as Trigger.dev's
            await io.task("raise", falsy, "raise")  # io.try); the task inside does not

        got.append(await io.try_(failing_task, lambda exc: None))
        await io.wait("nap", 5, "minutes")
        return got

    handle = flow({}).run_now()
    drain(capp)
    clock.advance(minutes=5)
    drain(capp)
    assert handle.result(timeout=5) == [None, False, 0, "", [], None]
    # "raise" fails (a KeyError in falsy) once: a failed task is not run again on replay
    assert calls == ["none", "false", "zero", "empty", "list", "raise"]


def test_one_event_id_sent_from_many_threads_starts_one_run(app: Conveyor) -> None:
    got: list[Any] = []

    @app.job("once", trigger=app.event("race"))
    async def once(payload: Any, io: Any) -> None:
        got.append(payload)

    results = in_threads(6, lambda i: app.send_event("race", {"i": i}, id="same-id-ü"))
    assert not [r for r in results if isinstance(r, BaseException)], results
    drain(app)
    assert len(got) == 1


def test_durable_waits_use_calendar_steps(capp: Conveyor, clock: ManualClock) -> None:
    @capp.job
    async def monthly(payload: Any, io: Any) -> str:
        await io.wait("month", 1, "month")
        await io.wait("fraction", 1.5, "hours")
        return "done"

    handle = monthly({}).run_now()
    drain(capp)
    first = record(capp, handle)
    assert (first.state, first.run_at) == ("waiting", datetime(2031, 2, 28, 23, 30, tzinfo=UTC))
    clock.at = due(capp, handle)
    drain(capp)
    assert record(capp, handle).run_at == datetime(2031, 3, 1, 1, 0, tzinfo=UTC)
    clock.advance(hours=1.5)
    drain(capp)
    assert handle.result(timeout=5) == "done"


def test_logs_and_history_follow_the_attempts(app: Conveyor) -> None:
    @app.job
    def job(meta: Any) -> str:
        meta.log.info(f"attempt {meta.attempt}")
        if meta.attempt < 3:
            raise RuntimeError(f"fail {meta.attempt}")
        return "third time"

    handle = job().run_now(retry=Retry(retries=5, wait=0))
    drain(app)
    rec = record(app, handle)
    assert [(x.attempt, x.message) for x in rec.logs] == [
        (1, "attempt 1"), (2, "attempt 2"), (3, "attempt 3")]
    assert [field(a, "error") is None for a in rec.history] == [False, False, True]
    assert rec.error is None or "fail 2" in str(field(rec.error, "message"))
    assert (rec.attempts, rec.max_attempts, rec.result) == (3, 6, "third time")


def test_absurd_durable_waits_fail_the_run_not_the_worker(app: Conveyor) -> None:
    @app.job
    async def sleeper(payload: Any, io: Any) -> None:
        await io.wait("w", payload["n"], payload["unit"])

    @app.job
    def fine() -> str:
        return "fine"

    handles = [sleeper({"n": n, "unit": u}).run_now()
               for n, u in [(1e300, "seconds"), (10**6, "years"), (1, "eons")]]
    other = fine().run_now()
    drain(app)
    assert other.result(timeout=5) == "fine"
    assert [record(app, h).state for h in handles] == ["failed"] * 3
