"""SPEC §9 flow control on every store: global limits, limit groups, pause/resume."""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from conveyor import ConfigurationError, Conveyor, QueueInfo, UnknownJobError

from .helpers import ManualClock, NewApp, drain, wait_for, worker_thread


class Peak:
    """Counts attempts running at once (overall and per label)."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.now: dict[str, int] = {}
        self.peak: dict[str, int] = {}

    def __call__(self, label: str, seconds: float = 0.05) -> None:
        with self.lock:
            self.now[label] = self.now.get(label, 0) + 1
            self.peak[label] = max(self.peak.get(label, 0), self.now[label])
        time.sleep(seconds)
        with self.lock:
            self.now[label] -= 1


def test_job_concurrency_caps_attempts_running_at_once(app: Conveyor) -> None:
    peak = Peak()

    @app.job(concurrency=2)
    def limited(n: int) -> None:
        peak("all")

    handles = [limited(i).run_now() for i in range(8)]
    drain(app, concurrency=8)
    assert all(h.state == "completed" for h in handles)
    assert peak.peak["all"] == 2


def test_concurrency_key_limits_each_key_and_is_stored(app: Conveyor) -> None:
    peak = Peak()

    @app.job(concurrency=1, concurrency_key="shop.id")
    def per_shop(order: dict[str, Any]) -> None:
        peak(str(order["shop"]["id"]), 0.1)
        peak("all", 0)

    handles = [per_shop({"shop": {"id": i % 2}}).run_now() for i in range(6)]
    assert app.get_job(handles[1].id).concurrency_key == "1"  # type: ignore[union-attr]
    with worker_thread(app, concurrency=6):
        wait_for(lambda: all(h.state == "completed" for h in handles), 20, "all jobs")
    assert peak.peak["0"] == 1 and peak.peak["1"] == 1


def test_concurrency_key_callable_and_keyword_payload(app: Conveyor) -> None:
    @app.job(concurrency=1, concurrency_key=lambda args, kwargs: f"t-{kwargs['tenant']}")
    def by_callable(tenant: int) -> None: ...

    @app.job(concurrency=1, concurrency_key="tenant")
    def by_field(tenant: int) -> None: ...

    a = by_callable(tenant=3).run_now()
    b = by_field(tenant=4).run_now()
    c = by_field(tenant=None).run_now()
    assert app.get_job(a.id).concurrency_key == "t-3"  # type: ignore[union-attr]
    assert app.get_job(b.id).concurrency_key == "4"  # type: ignore[union-attr]
    assert app.get_job(c.id).concurrency_key is None  # type: ignore[union-attr]


def test_queue_concurrency_caps_every_job_of_the_queue(app: Conveyor) -> None:
    peak = Peak()
    app.queue("narrow", concurrency=1)

    @app.job(queue="narrow")
    def one() -> None:
        peak("q")

    @app.job(queue="narrow")
    def two() -> None:
        peak("q")

    handles = [one().run_now() for _ in range(3)] + [two().run_now() for _ in range(3)]
    drain(app, concurrency=6)
    assert all(h.state == "completed" for h in handles)
    assert peak.peak["q"] == 1
    info = {q.name: q for q in app.queues()}["narrow"]
    assert info == QueueInfo("narrow", {"completed": 6}, 1, None, False)


def test_rate_limited_job_starts_later_and_is_not_failed(new_app: NewApp) -> None:
    clock = ManualClock(datetime(2031, 1, 1, tzinfo=UTC))  # the window moves only here
    app = new_app(clock=clock)

    @app.job(rate="3/second")
    def rated() -> None: ...

    handles = [rated().run_now() for _ in range(5)]
    drain(app)  # held-back work does not keep a burst worker open
    states = sorted(h.state or "" for h in handles)
    assert states == ["completed"] * 3 + ["queued"] * 2
    held = app.hold(app.store.get(next(h.id for h in handles if h.state == "queued")))  # type: ignore[arg-type]
    assert held is not None and "rate limit 3/second" in held.reason and held.until is not None
    clock.advance(seconds=0.5)
    drain(app)
    assert sorted(h.state or "" for h in handles) == states  # the window is still full
    clock.advance(seconds=0.6)
    drain(app)
    assert all(h.state == "completed" for h in handles)
    records = [app.get_job(h.id) for h in handles]
    starts = sorted(r.started_at for r in records if r is not None and r.started_at)
    assert len(starts) == 5
    assert starts[3] - starts[0] >= timedelta(seconds=1)  # the 4th waited for the window


def test_rate_limit_per_concurrency_key(app: Conveyor) -> None:
    @app.job(rate="2/minute", concurrency_key="tenant")
    def per_tenant(tenant: str) -> None: ...

    handles = [per_tenant(t).run_now() for t in "aaabbb"]
    drain(app)
    done = [app.get_job(h.id).concurrency_key for h in handles if h.state == "completed"]  # type: ignore[union-attr]
    assert sorted(done) == ["a", "a", "b", "b"]  # type: ignore[type-var]


def test_queue_rate_limit(app: Conveyor) -> None:
    app.queue("slow", rate="2/hour")

    @app.job(queue="slow")
    def in_slow() -> None: ...

    handles = [in_slow().run_now() for _ in range(4)]
    drain(app)
    assert sorted(h.state or "" for h in handles) == ["completed"] * 2 + ["queued"] * 2
    info = {q.name: q for q in app.queues()}["slow"]
    assert info.rate == "2/hour" and info.concurrency is None


def test_paused_queue_is_not_claimed_until_resumed(app: Conveyor) -> None:
    @app.job(queue="exports")
    def export() -> str:
        return "done"

    @app.job
    def other() -> str:
        return "other"

    app.pause(queue="exports")
    held = export().run_now()
    free = other().run_now()
    drain(app)
    assert held.state == "queued" and free.state == "completed"
    info = {q.name: q for q in app.queues()}["exports"]
    assert info.paused and info.counts == {"queued": 1}
    assert app.paused_counts() == {"exports": 1}
    hold = app.hold(app.store.get(held.id))  # type: ignore[arg-type]
    assert hold is not None and "paused" in hold.reason
    app.resume(queue="exports")
    drain(app)
    assert held.state == "completed"
    assert not {q.name: q for q in app.queues()}["exports"].paused


def test_paused_job_and_paused_jobs(app: Conveyor) -> None:
    @app.job
    def paused_one() -> None: ...

    app.pause(job="paused_one")
    assert app.paused_jobs() == ["paused_one"]
    h = paused_one().run_now()
    drain(app)
    assert h.state == "queued"
    app.resume(job=paused_one)
    assert app.paused_jobs() == []
    drain(app)
    assert h.state == "completed"


def test_running_attempts_finish_when_their_queue_is_paused(app: Conveyor) -> None:
    gate = threading.Event()

    @app.job(queue="q")
    def waits() -> str:
        gate.wait(10)
        return "finished"

    h = waits().run_now()
    with worker_thread(app):
        wait_for(lambda: h.state == "running", 10, "the job to start")
        app.pause(queue="q")
        gate.set()
        wait_for(lambda: h.state == "completed", 10, "the running attempt to finish")


def test_dead_workers_slot_frees_when_its_lease_is_rescued(app: Conveyor) -> None:
    @app.job(concurrency=1)
    def single() -> str:
        return "ran"

    first, second = single().run_now(), single().run_now()
    app.store.sync_limits(app.declared_limits())
    claimed = app.store.claim("dead-worker", None, 5, 0.2)  # a worker that then died
    assert [c.id for c in claimed] == [first.id]
    assert app.store.claim("live-worker", None, 5, 5) == []  # its slot is held
    time.sleep(0.3)
    drain(app)  # maintenance rescues the expired lease, freeing the slot
    assert first.state == "completed" and second.state == "completed"


@pytest.mark.parametrize("rate", ["100", "100/fortnight", "0/second", "-1/second", "x/min", 5])
def test_invalid_rate_is_refused_with_what_is_accepted(app: Conveyor, rate: Any) -> None:
    with pytest.raises(ConfigurationError, match="second, minute, hour or day"):
        app.job("bad", rate=rate)(lambda: None)


def test_rate_units_and_plurals(app: Conveyor) -> None:
    for text in ("10/second", "10/seconds", "5 / minute", "1/hour", "100/day"):
        app.job(f"j{len(app.jobs)}", rate=text)(lambda: None)
    with pytest.raises(ConfigurationError, match="concurrency"):
        app.job("c0", concurrency=0)(lambda: None)
    with pytest.raises(ConfigurationError, match="isolation"):
        app.job("i0", isolation="fork")(lambda: None)  # type: ignore[call-overload]
    with pytest.raises(ConfigurationError, match="concurrency_key"):
        app.job("k0", concurrency_key=3)(lambda: None)  # type: ignore[call-overload]


def test_pause_needs_a_target_and_a_known_job(app: Conveyor) -> None:
    with pytest.raises(ConfigurationError, match="queue="):
        app.pause()
    with pytest.raises(UnknownJobError):
        app.pause(job="nope")
