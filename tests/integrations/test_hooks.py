"""``@app.on`` hooks on every store: once per outcome, after the state is stored."""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from typing import Any

import pytest

from conveyor import Conveyor, Fail, Retry
from conveyor.errors import ConfigurationError
from conveyor.stores.base import LOST, POISON_RESCUES, JobFilter, Outcome
from conveyor.testing.conformance.helpers import claim_and_expire
from tests.conformance.helpers import NewApp, drain, wait_for, worker_thread


def _recorder(app: Conveyor) -> list[tuple[str, int, str, Any]]:
    seen: list[tuple[str, int, str, Any]] = []
    lock = threading.Lock()
    for event in ("started", "completed", "failed", "retrying", "cancelled"):
        def hook(record: Any, error: BaseException | None = None, _event: str = event) -> None:
            with lock:
                seen.append((_event, record.id, record.state, error))
        app.on(event, hook)
    return seen


def test_hooks_fire_once_per_outcome_after_the_state_is_stored(app: Conveyor) -> None:
    seen = _recorder(app)

    @app.job
    def ok(x: int) -> int:
        return x * 2

    @app.job(retry=Retry(retries=1, wait=0))
    def flaky() -> None:
        raise ValueError("boom")

    @app.job
    def fatal() -> None:
        raise Fail("no")

    a, b, c = ok(2).run_now(), flaky().run_now(), fatal().run_now()
    drain(app)
    events = sorted((e, i) for e, i, _, _ in seen)
    assert events == sorted([
        ("started", a.id), ("completed", a.id),
        ("started", b.id), ("retrying", b.id), ("started", b.id), ("failed", b.id),
        ("started", c.id), ("failed", c.id),
    ])
    states = {(e, i): s for e, i, s, _ in seen}
    assert states[("completed", a.id)] == "completed"
    assert states[("failed", c.id)] == "failed"
    assert states[("started", a.id)] in ("running", "completed")
    errors = [err for e, i, _, err in seen if i == b.id and e in ("retrying", "failed")]
    assert all(isinstance(err, ValueError) and str(err) == "boom" for err in errors)
    assert [err for e, i, _, err in seen if e == "completed"] == [None]


def test_a_retrying_hook_sees_the_retry_even_once_the_next_attempt_ran(app: Conveyor) -> None:
    """A retry without a wait may be claimed (and finish) before the hook reads the
    record: the hook still sees the record as the retry left it."""
    import asyncio

    @app.job(retry=Retry(retries=1, wait=0))
    def second_time_lucky(meta: Any) -> str:
        if meta.attempt == 1:
            raise ValueError("first attempt fails")
        return "ok"

    h = second_time_lucky().run_now()
    drain(app)
    assert h.result(timeout=30) == "ok"  # both attempts ran before the hook below reads it
    seen: list[Any] = []
    app.on("retrying", lambda record, error=None: seen.append(record))
    asyncio.run(app.hooks.fire(app, "retrying", h.id, None, attempt=1))
    (record,) = seen
    assert (record.state, record.attempts, record.result) == ("queued", 1, None)
    assert record.error is not None and record.error["message"] == "first attempt fails"


def test_async_hook_and_a_failing_hook_never_fail_the_job(
    app: Conveyor, caplog: pytest.LogCaptureFixture
) -> None:
    got: list[int] = []

    @app.on("completed")
    async def record_it(record: Any, error: BaseException | None = None) -> None:
        got.append(record.id)

    @app.on("completed")
    def broken(record: Any, error: BaseException | None = None) -> None:
        raise RuntimeError("hook broke")

    @app.job
    def ok() -> str:
        return "fine"

    h = ok().run_now()
    with caplog.at_level(logging.ERROR, logger="conveyor"):
        drain(app)
    assert got == [h.id]
    record = app.get_job(h.id)
    assert record is not None and record.state == "completed" and record.result == "fine"
    assert "hook broke" in caplog.text


def test_a_hook_raising_keyboard_interrupt_or_system_exit_is_logged_and_the_worker_goes_on(
    app: Conveyor, caplog: pytest.LogCaptureFixture
) -> None:
    """asyncio carries those two out of the worker's loop from any task they end: raised by
    a hook (sync in its thread, or async), they stopped the worker with its leases held."""
    got: list[int] = []

    @app.on("completed")
    def interrupts(record: Any, error: BaseException | None = None) -> None:
        raise KeyboardInterrupt("hook ✗")

    @app.on("completed")
    async def exits(record: Any, error: BaseException | None = None) -> None:
        raise SystemExit("async hook ✗")

    @app.on("completed")
    async def record_it(record: Any, error: BaseException | None = None) -> None:
        got.append(record.id)

    @app.job
    def ok(n: int) -> int:
        return n

    handles = [ok(n).run_now() for n in range(4)]
    with caplog.at_level(logging.ERROR, logger="conveyor"):
        drain(app, concurrency=2)
    assert sorted(got) == sorted(h.id for h in handles)
    assert [h.result(timeout=30) for h in handles] == list(range(4))
    assert caplog.text.count("KeyboardInterrupt: hook ✗") == 4
    assert caplog.text.count("SystemExit: async hook ✗") == 4


def test_cancelled_hooks_fire_once(app: Conveyor) -> None:
    seen = _recorder(app)
    release = threading.Event()

    @app.job
    def later() -> None: ...

    @app.job
    def slow() -> None:
        release.wait(10)

    pending = later().run_in(1, "hour")
    many = [later().run_in(1, "hour") for _ in range(2)]
    assert app.cancel(pending.id)
    assert app.cancel_jobs(type="later") == 2
    with worker_thread(app):
        running = slow().run_now()
        wait_for(lambda: any(e == "started" and i == running.id for e, i, _, _ in seen))
        assert app.cancel(running.id)
        wait_for(lambda: any(e == "cancelled" and i == running.id for e, i, _, _ in seen))
        release.set()
    cancelled = sorted(i for e, i, _, _ in seen if e == "cancelled")
    assert cancelled == sorted([pending.id, *(h.id for h in many), running.id])


@pytest.mark.parametrize("end", ["returns", "fails"])
def test_a_job_cancelled_as_it_runs_is_reported_cancelled_however_its_attempt_ends(
    app: Conveyor, end: str
) -> None:
    """The attempt ends right after the cancel, before a heartbeat can tell the worker:
    the store refuses its outcome, and the hooks hear of the cancel, not of that end."""
    seen = _recorder(app)
    cancelled = threading.Event()

    @app.job
    def busy() -> None:
        cancelled.wait(10)
        if end == "fails":
            raise Fail("too late")

    with worker_thread(app):
        h = busy().run_now()
        wait_for(lambda: any(e == "started" and i == h.id for e, i, _, _ in seen))
        assert app.cancel(h.id)
        cancelled.set()
        wait_for(lambda: any(e == "cancelled" for e, _, _, _ in seen))
    assert [(e, s) for e, _, s, _ in seen] == [("started", "running"), ("cancelled", "cancelled")]
    assert h.state == "cancelled"


def test_unknown_event_is_refused() -> None:
    app = Conveyor("memory://")
    with pytest.raises(ConfigurationError, match="accepted: started, completed"):
        app.on("finished")
    with pytest.raises(ConfigurationError, match="accepted"):
        app.on("done", lambda record, error=None: None)


def test_hooks_may_take_the_record_alone_or_the_error_positionally(app: Conveyor) -> None:
    seen: list[tuple[Any, ...]] = []

    @app.on("completed")
    def done(record: Any) -> None:
        seen.append(("done", record.id))

    @app.on("failed")
    async def failed(record: Any, error: BaseException | None) -> None:
        seen.append(("failed", record.id, type(error).__name__))

    class Alert:
        def __call__(self, record: Any, **details: Any) -> None:
            seen.append(("alert", record.id, type(details["error"]).__name__))

    app.on("failed", Alert())

    @app.job
    def ok() -> int:
        return 1

    @app.job
    def bad() -> None:
        raise KeyError("k")

    good, broken = ok().run_now(), bad().run_now()
    drain(app)
    wait_for(lambda: len(seen) == 3)
    assert sorted(seen, key=str) == sorted([("done", good.id), ("failed", broken.id, "KeyError"),
                                            ("alert", broken.id, "KeyError")], key=str)


def test_a_hook_that_takes_no_record_is_refused() -> None:
    app = Conveyor("memory://")
    with pytest.raises(ConfigurationError, match="takes no argument"):
        app.on("completed", lambda: None)


def test_a_job_rescued_from_a_dead_worker_fires_its_retrying_hook(app: Conveyor) -> None:
    """No worker reports an attempt whose worker died: the maintenance pass that rescues
    it tells the hooks (retrying; failed when it is failed as a poison job)."""
    import time

    seen = _recorder(app)

    @app.job
    def victim() -> None: ...

    handle = victim().run_now()
    [claimed] = app.store.claim("host:1:dead", None, 1, 0.05)  # its worker dies at once
    time.sleep(0.2)  # the lease expires
    app.maintain(app.store, True)
    wait_for(lambda: seen, what="the retrying hook")
    assert [(event, job_id) for event, job_id, *_ in seen] == [("retrying", handle.id)]
    assert claimed.id == handle.id and seen[0][2] == "queued"


def test_the_dependents_a_poison_failure_cancels_fire_their_cancelled_hook(
        app: Conveyor) -> None:
    """A job failed as poison by a maintenance pass cancels what depends on it (in the
    store): that pass reports them, as no worker or canceller does."""
    import time

    cancelled: list[int] = []
    app.on("cancelled", lambda record, error=None: cancelled.append(record.id))

    @app.job
    def killer() -> None: ...

    @app.job
    def after(x: Any = None) -> None: ...

    root = killer().run_now()
    below = after().run_now(depends_on=[root])
    for death in range(POISON_RESCUES):
        [claimed] = app.store.claim(f"host:1:dead-{death}", None, 1, 0.05)  # it dies alone
        assert claimed.id == root.id
        time.sleep(0.15)  # the lease expires
        app.maintain(app.store, True)
    assert root.state == "failed"
    wait_for(lambda: cancelled, what="the cancelled hook")
    assert cancelled == [below.id]


def _cancel(app: Conveyor, how: str, job_id: int, job: str) -> None:
    if how == "cancel":
        assert app.cancel(job_id)
    else:
        assert app.cancel_jobs(type=job, state=how or None) == 1


CANCELS = ["cancel", "", "running"]  # app.cancel, cancel_jobs, cancel_jobs(state="running")


@pytest.mark.parametrize("how", CANCELS)
def test_a_dead_workers_job_cancelled_fires_cancelled_once(app: Conveyor, how: str) -> None:
    """No worker will report it: the canceller does."""
    import time

    seen = _recorder(app)

    @app.job
    def orphan() -> None: ...

    handle = orphan().run_now()
    app.store.claim("host:1:dead", None, 1, 0.05)  # its worker dies at once
    time.sleep(0.15)  # the lease expires
    _cancel(app, how, handle.id, "orphan")
    wait_for(lambda: seen, what="the cancelled hook")
    time.sleep(0.2)
    assert [(e, i) for e, i, *_ in seen] == [("cancelled", handle.id)]


@pytest.mark.parametrize("how", CANCELS)
def test_a_lost_job_cancelled_while_its_slow_worker_runs_on_fires_cancelled_once(
    new_app: NewApp, how: str
) -> None:
    """The worker's loop stalls past the lease (its job is lost, not rescued yet) and the
    job is cancelled then: the canceller reports it (its worker may be dead), and the
    worker that runs on and finds its lease gone does not report it again."""
    import time

    app = new_app(lease=0.3)
    seen = _recorder(app)
    started, release = threading.Event(), threading.Event()

    @app.job
    async def hog() -> None:
        started.set()
        # Blocks its worker's loop (no heartbeat renews the lease, no upkeep rescues the
        # job) until the cancel has been heard, however slowly this test's thread runs.
        release.wait(10)

    handle = hog().run_now()
    with worker_thread(app):
        assert started.wait(10)
        lost = JobFilter(states=[LOST])
        wait_for(lambda: app.store.count(lost) == 1, what="the lease to expire")
        _cancel(app, how, handle.id, "hog")
        wait_for(lambda: any(e == "cancelled" for e, *_ in seen), what="the cancelled hook")
        release.set()
        time.sleep(1.5)  # the worker runs on, finds its lease gone and ends the attempt
    assert [(e, i) for e, i, *_ in seen if e != "started"] == [("cancelled", handle.id)]


@pytest.mark.parametrize("worker_sees", ["lost", "refused"])
@pytest.mark.parametrize("how", ["cancel", "cancel_jobs"])
def test_a_cancel_at_a_leases_end_is_reported_once_by_its_canceller_or_its_worker(
    app: Conveyor, how: str, worker_sees: str
) -> None:
    """Played with the Store protocol: one worker's lease has just lapsed (it has not
    noticed: its next heartbeat is due), another's is live; both jobs are cancelled, then
    each worker reports its attempt as a worker does (its lease found lost, or its outcome
    refused as cancelled). The lapsed one was reported by the canceller and again by its
    worker (which judged the lease's end by its own clock); now once each."""
    seen = _recorder(app)

    @app.job
    def task() -> None: ...

    task().run_now()
    lapsed = claim_and_expire(app)
    task().run_now()
    (live,) = app.store.claim("live-worker", None, 1, 30)
    if how == "cancel":
        assert app.cancel(lapsed.id) and app.cancel(live.id)
    else:
        assert app.cancel_jobs(type="task", state="running") == 2
    assert [(e, i) for e, i, *_ in seen] == [("cancelled", lapsed.id)]
    for claimed in (lapsed, live):
        refused = Outcome(claimed.id, claimed.token, "cancelled", time.time())
        asyncio.run(app.hooks.attempt_finished(
            app, claimed, None if worker_sees == "lost" else refused, None))
    assert [(e, i) for e, i, *_ in seen] == [("cancelled", lapsed.id), ("cancelled", live.id)]
