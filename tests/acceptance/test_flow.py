"""SPEC §9 — flow control: per-job and per-key concurrency, rate limits, queues, pause and
resume (in one process; tests/process covers the same limits across worker processes)."""

from __future__ import annotations

import asyncio
import os
import re
import signal
import threading
from collections import Counter
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import pytest

from conveyor import Conveyor, QueueInfo, Retry
from conveyor.testing import FakeClock, run_until_idle

START = datetime(2032, 6, 1, 8, 0, tzinfo=UTC)


class Gauge:
    """Counts attempts running at once (overall and per key)."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.now: Counter[str] = Counter()
        self.peak: Counter[str] = Counter()

    async def hold(self, key: str, seconds: float = 0.05) -> None:
        with self.lock:
            self.now[key] += 1
            self.now["*"] += 1
            self.peak[key] = max(self.peak[key], self.now[key])
            self.peak["*"] = max(self.peak["*"], self.now["*"])
        await asyncio.sleep(seconds)
        with self.lock:
            self.now[key] -= 1
            self.now["*"] -= 1


def test_job_concurrency_caps_running_attempts(app: Conveyor) -> None:
    gauge = Gauge()

    @app.job(concurrency=2)
    async def limited(n: int) -> int:
        await gauge.hold("limited")
        return n

    handles = [limited(n).run_now() for n in range(6)]
    app.run_worker(concurrency=6, burst=True)
    assert [h.result(timeout=30) for h in handles] == list(range(6))
    assert gauge.peak["limited"] == 2


@pytest.mark.parametrize(
    ("concurrency_key", "payload", "stored"),
    [
        ("shop_id", lambda n: {"shop_id": n % 2}, {"0", "1"}),
        ("shop.id", lambda n: {"shop": {"id": f"ß{n % 2}"}}, {"ß0", "ß1"}),
        (lambda args, kwargs: "eu" if args[0]["n"] % 2 else "us", lambda n: {"n": n},
         {"eu", "us"}),
    ],
    ids=["field", "dotted", "callable"],
)
def test_concurrency_key_limits_per_distinct_value(
    app: Conveyor, concurrency_key: object, payload: Callable[[int], dict[str, object]],
    stored: set[str]
) -> None:
    gauge = Gauge()

    @app.job(concurrency=1, concurrency_key=concurrency_key)
    async def per_key(data: dict[str, object], meta: object) -> None:
        record = app.get_job(meta.job.id)  # type: ignore[attr-defined]
        await gauge.hold(str(record.concurrency_key))  # type: ignore[union-attr]

    handles = [per_key(payload(n)).run_now() for n in range(6)]
    keys = {app.get_job(h.id).concurrency_key for h in handles}  # type: ignore[union-attr]
    assert {str(k) for k in keys} == stored
    app.run_worker(concurrency=6, burst=True)
    assert all(app.get_job(h.id).state == "completed" for h in handles)  # type: ignore[union-attr]
    assert all(gauge.peak[k] == 1 for k in stored)
    assert gauge.peak["*"] == 2  # the two keys do not hold each other back


def test_rate_limits_starts_per_sliding_window_on_the_app_clock(app: Conveyor) -> None:
    for rate, window in (("2/second", 1), ("2/minute", 60), ("2/hour", 3600),
                         ("2/day", 86400)):
        ran: list[int] = []
        limited = app.job(f"limited {rate}", rate=rate)(ran.append)
        with FakeClock(app, start=START) as clock:
            handles = [limited(n).run_now() for n in range(5)]
            app.run_worker(concurrency=5, burst=True)  # held back: returns, does not wait
            assert len(ran) == 2, rate
            states = {app.get_job(h.id).state for h in handles[2:]}  # type: ignore[union-attr]
            assert states == {"queued"}
            clock.advance(window / 2, "seconds")
            app.run_worker(concurrency=5, burst=True)
            assert len(ran) == 2, rate  # still inside the window
            clock.advance(window / 2 + 0.001, "seconds")
            app.run_worker(concurrency=5, burst=True)
            assert len(ran) == 4, rate
        app.cancel_jobs(type=f"limited {rate}")


@pytest.mark.parametrize(("option", "value"), [
    ("concurrency", 0), ("concurrency", -1), ("concurrency", True), ("concurrency", 1.5),
    ("concurrency", "2"), ("concurrency_key", ""), ("concurrency_key", "shop..id"),
    ("concurrency_key", ".id"), ("concurrency_key", "shop."), ("concurrency_key", 3),
    ("isolation", "thread pool"), ("rate", 100),
])
def test_bad_limits_are_refused_at_definition(sqlite_app: Conveyor, option: str,
                                              value: object) -> None:
    with pytest.raises(ValueError, match=f"invalid {option} {re.escape(repr(value))}"):
        @sqlite_app.job(**{"concurrency": 1, option: value})  # type: ignore[call-overload]
        def noop() -> None: ...


def test_rates_take_celerys_short_units_too(app: Conveyor) -> None:
    ran: list[int] = []
    limited = app.job("short unit", rate="2/m")(ran.append)
    with FakeClock(app, start=START) as clock:
        for n in range(3):
            limited(n).run_now()
        app.run_worker(concurrency=3, burst=True)
        assert len(ran) == 2
        clock.advance(61, "seconds")
        app.run_worker(concurrency=3, burst=True)
        assert len(ran) == 3
    for rate in ("10/s", "10/sec", "100/min", "5/h", "5/hr", "1/d", "3/seconds"):
        app.job(f"rate {rate}", rate=rate)(ran.append)


@pytest.mark.parametrize("rate", ["100/fortnight", "abc", "/second", "x/minute", "-1/second",
                                  "0/second", "1.5.2/hour", "", "1/ms", "1/ss", "1/mo"])
def test_a_bad_rate_is_refused_at_definition(sqlite_app: Conveyor, rate: str) -> None:
    with pytest.raises(ValueError) as caught:
        @sqlite_app.job(rate=rate)
        def noop() -> None: ...

    assert repr(rate) in str(caught.value) or rate in str(caught.value)


def test_queue_limits_and_queue_info(app: Conveyor) -> None:
    gauge = Gauge()
    app.queue("exports-ü", concurrency=1, rate="1000/second")

    @app.job(queue="exports-ü")
    async def export(n: int) -> None:
        await gauge.hold("exports")

    @app.job
    async def other() -> None:
        await gauge.hold("other")

    handles = [export(n).run_now() for n in range(4)] + [other().run_now()]
    infos = {q.name: q for q in app.queues()}
    assert isinstance(infos["exports-ü"], QueueInfo)
    info = infos["exports-ü"]
    assert info.concurrency == 1
    assert info.rate is not None and "1000" in str(info.rate) and "second" in str(info.rate)
    assert info.paused is False
    assert info.counts.get("queued") == 4
    app.run_worker(concurrency=4, burst=True)
    assert {app.get_job(h.id).state for h in handles} == {"completed"}  # type: ignore[union-attr]
    assert gauge.peak["exports"] == 1
    after = {q.name: q for q in app.queues()}["exports-ü"]
    assert after.counts["completed"] == 4
    assert after.counts["queued"] == 0  # a state without jobs reads 0
    assert after.counts == {"completed": 4}


def test_an_undeclared_queue_shows_no_limits(app: Conveyor) -> None:
    @app.job(queue="plain")
    def noop() -> None: ...

    noop().run_now()
    info = {q.name: q for q in app.queues()}["plain"]
    assert (info.concurrency, info.rate, info.paused) == (None, None, False)


def test_a_paused_queue_is_not_claimed_until_resumed_and_survives_restarts(
    url: str, open_app: Callable[..., Conveyor]
) -> None:
    app = open_app()

    @app.job(queue="slow lane")
    def held() -> str:
        return "held"

    @app.job
    def free() -> str:
        return "free"

    app.pause(queue="slow lane")
    blocked, fine = held().run_now(), free().run_now()
    app.run_worker(burst=True)  # the paused queue does not keep a burst worker open
    assert app.get_job(blocked.id).state == "queued"  # type: ignore[union-attr]
    assert fine.result(timeout=30) == "free"
    # persisted: another app on the same store sees the pause
    other = open_app(url)
    assert {q.name: q.paused for q in other.queues()}.get("slow lane") is True
    other.resume(queue="slow lane")
    run_until_idle(app)
    assert blocked.result(timeout=30) == "held"
    assert {q.name: q.paused for q in app.queues()}["slow lane"] is False


def test_a_paused_job_is_listed_and_not_claimed(app: Conveyor) -> None:
    @app.job("pausé-job")
    def paused_job() -> None: ...

    @app.job
    def running_job() -> None: ...

    app.pause(job="pausé-job")
    assert list(app.paused_jobs()) == ["pausé-job"]
    held, ran = paused_job().run_now(), running_job().run_now()
    run_until_idle(app)
    assert app.get_job(held.id).state == "queued"  # type: ignore[union-attr]
    assert app.get_job(ran.id).state == "completed"  # type: ignore[union-attr]
    app.resume(job="pausé-job")
    assert list(app.paused_jobs()) == []
    run_until_idle(app)
    assert app.get_job(held.id).state == "completed"  # type: ignore[union-attr]


def test_pausing_lets_a_running_attempt_finish(app: Conveyor) -> None:
    @app.job(queue="q")
    def pauses_its_own_queue() -> str:
        app.pause(queue="q")
        return "finished anyway"

    first = pauses_its_own_queue().run_now()
    run_until_idle(app)
    assert first.result(timeout=30) == "finished anyway"
    second = pauses_its_own_queue().run_now()
    run_until_idle(app)
    assert app.get_job(second.id).state == "queued"  # type: ignore[union-attr]


def test_resume_of_something_never_paused_is_harmless(app: Conveyor) -> None:
    @app.job
    def never_paused() -> None: ...

    app.resume(queue="never-paused")
    app.resume(job="never_paused")
    assert list(app.paused_jobs()) == []


def test_a_job_known_to_the_store_only_can_be_paused_and_resumed(app: Conveyor) -> None:
    """Defined by another service or an older deploy: what paused_jobs() lists can be
    resumed, and a job with stored runs can be paused, from an app without it in code."""
    @app.job("Old Job")
    def old() -> None: ...

    @app.job("elsewhere")
    def elsewhere() -> None: ...

    elsewhere().run_in(1, "hour")
    app.pause(job="Old Job")
    app.jobs.remove_definition("Old Job")
    app.jobs.remove_definition("elsewhere")
    assert app.paused_jobs() == ["Old Job"]
    app.resume(job="Old Job")
    assert app.paused_jobs() == []
    app.pause(job="elsewhere")
    assert app.paused_jobs() == ["elsewhere"]
    with pytest.raises(LookupError, match="Old Job"):  # neither defined, paused nor stored
        app.pause(job="Old Job")


def test_pausing_an_unknown_job_is_an_error_naming_it(sqlite_app: Conveyor) -> None:
    with pytest.raises(LookupError) as caught:
        sqlite_app.pause(job="no-such-jøb")
    assert "no-such-jøb" in str(caught.value)


def test_a_limited_job_is_held_back_not_failed(app: Conveyor) -> None:
    @app.job(concurrency=1, rate="1/day")
    def once_a_day(n: int) -> None: ...

    with FakeClock(app, start=START) as clock:
        handles = [once_a_day(n).run_now() for n in range(3)]
        run_until_idle(app, clock)
        states = [app.get_job(h.id).state for h in handles]  # type: ignore[union-attr]
        assert states.count("completed") == 1
        assert states.count("queued") == 2
        assert "failed" not in states
        clock.advance(1, "day")
        clock.advance(1, "second")
        run_until_idle(app, clock)
        states = [app.get_job(h.id).state for h in handles]  # type: ignore[union-attr]
        assert states.count("completed") == 2


def test_concurrency_holds_across_two_workers_on_one_store(
    url: str, open_app: Callable[..., Conveyor]
) -> None:
    # Two apps (two workers, as two deployments would run them) share the store's limit.
    gauge = Gauge()
    apps = [open_app(url) for _ in range(2)]
    for each in apps:
        @each.job("shared-limit", concurrency=1)
        async def shared_limit(n: int) -> int:
            await gauge.hold("shared")
            return n

    handles = [apps[0].jobs["shared-limit"](n).run_now() for n in range(6)]
    workers = [threading.Thread(target=lambda a=each: a.run_worker(concurrency=3, burst=True))
               for each in apps]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    assert sorted(h.result(timeout=30) for h in handles) == list(range(6))
    assert gauge.peak["shared"] == 1


def test_an_isolated_attempt_that_crashes_is_retried_and_sees_meta(app: Conveyor) -> None:
    @app.job(isolation="process", retry=Retry(retries=2, wait=0))
    def render(doc: dict[str, int], meta: Any) -> dict[str, int]:
        meta.log.info("rendering %s", doc["id"])
        meta.progress(0.5, message="half way")
        if meta.attempt == 1:
            os.kill(os.getpid(), signal.SIGKILL)  # the out-of-memory killer, say
        return {"pid": os.getpid(), "attempt": meta.attempt}

    handle = render({"id": 7}).run_now()
    run_until_idle(app)

    result = handle.result(timeout=30)
    assert result["attempt"] == 2 and result["pid"] != os.getpid()
    record = app.get_job(handle.id)
    assert record is not None and record.state == "completed" and record.attempts == 2
    first = record.history[0].error
    assert first is not None and "killed by SIGKILL" in first["message"]
    assert [line.message for line in record.logs] == ["rendering 7", "rendering 7"]
    assert record.progress_message == "half way"
