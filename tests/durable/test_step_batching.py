"""Group commit of durable steps on every store: concurrent runs' step writes share
transactions, each still fenced by its own run's lease and failing on its own."""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any

from conveyor import Conveyor
from conveyor.errors import StoreDataError
from conveyor.stores.base import NewJob, StepRow, StepWrite

RUNS = 12
STEPS = 5


def claimed_runs(app: Conveyor, n: int) -> list[Any]:
    app.store.insert([NewJob(job="flow") for _ in range(n)])
    return app.store.claim("w1", None, n, 30.0)


def step(job_id: int, seq: int = 1, key: Any = "k") -> StepRow:
    return StepRow(job_id=job_id, seq=seq, key=key, kind="task", state="completed",
                   output=str(job_id), started_at=time.time())


def test_a_batch_stores_each_write_fenced_by_its_own_runs_lease(app: Conveyor) -> None:
    a, b, c = claimed_runs(app, 3)
    due = time.time() + 3600
    saved = app.store.save_steps([
        StepWrite(a.token, step(a.id)),
        StepWrite(b.token + 1, step(b.id)),  # b's lease is not this one: fenced out
        StepWrite(c.token, step(c.id), due, "2.0"),  # stored, and c waits until due
    ])
    assert saved == [True, False, True]
    assert [s.output for s in app.store.load_steps(a.id)] == [str(a.id)]
    assert app.store.load_steps(b.id) == []
    assert [s.output for s in app.store.load_steps(c.id)] == [str(c.id)]
    record = app.get_job(c.id)
    assert record is not None and (record.state, record.version) == ("waiting", "2.0")
    assert app.store.save_steps([StepWrite(c.token, step(c.id, 2))]) == [False]


def test_a_write_the_store_refuses_fails_only_itself(app: Conveyor) -> None:
    a, b, c = claimed_runs(app, 3)
    saved = app.store.save_steps([
        StepWrite(a.token, step(a.id)),
        StepWrite(b.token, step(b.id, key=None)),  # NOT NULL: the database refuses it
        StepWrite(c.token, step(c.id)),
    ])
    assert saved[0] is True and saved[2] is True
    assert isinstance(saved[1], Exception)
    assert [len(app.store.load_steps(j.id)) for j in (a, b, c)] == [1, 0, 1]


def flows(app: Conveyor, batches: list[int]) -> Any:
    """A durable job of STEPS steps; every save_steps call's size goes into ``batches``."""
    save_steps = app.store.save_steps

    def spy(writes: Sequence[StepWrite]) -> list[bool | BaseException]:
        batches.append(len(writes))
        return save_steps(writes)

    app.store.save_steps = spy  # type: ignore[method-assign]

    @app.job
    async def flow(payload: Any, io: Any) -> int:
        total = 0
        for i in range(STEPS):
            total += await io.task(f"s{i}", _echo, payload["n"] if i == 3 else i)
        return total

    return flow


async def _echo(value: Any) -> Any:
    return value


def test_concurrent_runs_commit_their_steps_together(app: Conveyor) -> None:
    batches: list[int] = []
    flow = flows(app, batches)
    handles = app.enqueue_many(flow({"n": n}) for n in range(RUNS))
    app.run_worker(concurrency=RUNS, burst=True)
    for h, n in zip(handles, range(RUNS), strict=True):
        record = app.get_job(h.id)
        assert record is not None and (record.state, record.result) == ("completed", 7 + n)
        assert [s.key for s in app.steps(h.id)] == [f"s{i}" for i in range(STEPS)]
    assert sum(batches) == RUNS * STEPS
    assert max(batches) > 1  # the runs' writes shared transactions


def test_a_refused_step_write_fails_only_its_own_runs_step(app: Conveyor) -> None:
    batches: list[int] = []
    flow = flows(app, batches)
    group = app.store.step_group  # type: ignore[attr-defined]
    store_many = group.store_many

    def refusing(rows: Sequence[dict[str, Any]]) -> list[bool]:
        if any(r["output"] == "-1" for r in rows):  # the database refuses this value
            raise StoreDataError("value out of range")
        return store_many(rows)

    group.store_many = refusing
    handles = app.enqueue_many(flow({"n": n}) for n in [*range(RUNS - 1), -1])
    app.run_worker(concurrency=RUNS, burst=True)
    records = [app.get_job(h.id) for h in handles]
    assert all(r is not None for r in records)
    *fine, refused = records
    assert all(r is not None and r.state == "completed" for r in fine)
    assert refused is not None and refused.state == "failed"
    assert refused.error is not None and "value out of range" in refused.error["message"]
    assert [s.key for s in app.steps(handles[-1].id)] == ["s0", "s1", "s2"]
    assert max(batches) > 1


def test_a_run_whose_lease_is_lost_is_fenced_while_the_others_finish(app: Conveyor) -> None:
    batches: list[int] = []
    flows(app, batches)
    handles: list[Any] = []

    def cancel_own_run(n: int) -> int:
        if n == 0:
            assert app.cancel(handles[0].id)  # the lease is gone before the write
        return n

    @app.job
    async def fenced(payload: Any, io: Any) -> int:
        for i in range(STEPS):
            await io.task(f"s{i}", cancel_own_run if i == 2 else _echo, payload)
        return payload

    handles.extend(app.enqueue_many(fenced(n) for n in range(RUNS)))
    app.run_worker(concurrency=RUNS, burst=True)
    first = app.get_job(handles[0].id)
    assert first is not None and first.state == "cancelled"
    assert [s.key for s in app.steps(handles[0].id)] == ["s0", "s1"]  # s2 was fenced out
    for h in handles[1:]:
        record = app.get_job(h.id)
        assert record is not None and record.state == "completed"
        assert len(app.steps(h.id)) == STEPS
    assert max(batches) > 1
