"""Store methods behind durable runs and events, on every store: fencing, atomic
suspension, events stored once."""

from __future__ import annotations

import json
import threading
import time
from typing import Any

from conveyor import Conveyor
from conveyor.stores.base import EventRow, NewJob, Outcome, StepRow
from conveyor.timeunits import FAR_FUTURE


def claimed_run(app: Conveyor) -> Any:
    app.store.insert([NewJob(job="flow")])
    (job,) = app.store.claim("w1", None, 1, 30.0)
    return job


def step(job_id: int, seq: int = 1, state: str = "completed") -> StepRow:
    return StepRow(job_id=job_id, seq=seq, key=f"k{seq}", kind="task", state=state,
                   output="1", started_at=time.time())


def test_a_step_is_stored_only_while_the_run_is_held_with_that_token(app: Conveyor) -> None:
    job = claimed_run(app)
    assert app.store.save_step(job.token + 1, step(job.id)) is False
    assert app.store.load_steps(job.id) == []
    assert app.store.save_step(job.token, step(job.id)) is True
    (stored,) = app.store.load_steps(job.id)
    assert (stored.key, stored.state, stored.output) == ("k1", "completed", "1")


def test_saving_a_step_again_replaces_it(app: Conveyor) -> None:
    job = claimed_run(app)
    app.store.save_step(job.token, step(job.id, state="waiting"))
    app.store.save_step(job.token, step(job.id, state="completed"))
    assert [s.state for s in app.store.load_steps(job.id)] == ["completed"]


def test_suspending_with_a_step_sets_the_run_waiting_and_fences_out_the_late_outcome(
    app: Conveyor,
) -> None:
    job = claimed_run(app)
    due = time.time() + 3600
    assert app.store.save_step(job.token, step(job.id, state="waiting"), due, "1.0")
    record = app.get_job(job.id)
    assert record is not None
    # the store gives the attempt back for the wake-up; the record counts the one started
    assert (record.state, record.attempts, record.version) == ("waiting", 1, "1.0")
    late = Outcome(job.id, job.token, "waiting", time.time(), run_at=None)
    assert app.store.complete([late]) == 0
    assert app.store.save_step(job.token, step(job.id, 2)) is False


def test_an_event_is_stored_once_per_id_even_when_sent_concurrently(app: Conveyor) -> None:
    started: list[int] = []

    def runs(event: EventRow) -> list[NewJob]:
        started.append(1)
        return [NewJob(job="on-event", args=f"[{event.payload}]")]

    def send() -> None:
        app.store.deliver_event(EventRow(id="same", name="x", payload="{}",
                                         deliver_at=0.0), runs, lambda e, s: False)

    threads = [threading.Thread(target=send) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert started == [1]
    stored = app.store.get_event("same")
    assert stored is not None and len(stored.runs) == 1
    assert app.count(job="on-event") == 1


def test_an_event_sent_while_a_run_stores_its_wait_for_it_wakes_the_run(tmp_path: Any) -> None:
    """SQLite stores the waiting step and suspends the run in two statements; another
    process's event arriving between them (sent here from SQLite's statement trace, as
    the suspension begins) must find both or neither."""
    url = f"sqlite:///{tmp_path}/jobs.db"
    with Conveyor(url) as app, Conveyor(url) as other:
        job = claimed_run(app)
        wait = StepRow(job_id=job.id, seq=1, key="ping", kind="event", state="waiting",
                       input=json.dumps({"name": "ping", "filter": None}), wake_at=FAR_FUTURE,
                       event_name="ping", started_at=time.time())
        sender = threading.Thread(target=other.send_event, args=("ping", {}), kwargs={"id": "p"})

        def trace(sql: str) -> None:
            if sql.lstrip().startswith("UPDATE conveyor_jobs SET state = 'waiting'"):
                sender.start()
                sender.join(1)  # delivered at once, unless this write holds the lock

        app.store.db.conn.set_trace_callback(trace)  # type: ignore[attr-defined]
        try:
            assert app.store.save_step(job.token, wait, FAR_FUTURE)
        finally:
            app.store.db.conn.set_trace_callback(None)  # type: ignore[attr-defined]
        sender.join(10)
        assert sender.ident is not None and not sender.is_alive()
        (stored,) = app.store.load_steps(job.id)
        assert stored.state == "completed"  # woken, not waiting for good: due now
        assert [j.id for j in app.store.claim("w2", None, 1, 30.0)] == [job.id]
