"""Durable child runs: ``io.run_job`` / ``io.run_jobs`` (SPEC §10).

A ``children`` step stores its children (keyed by run, step seq and index, unique, so a
replay never starts one twice), then saves itself ``waiting`` and suspends the run in
one transaction that counts the children still unfinished. The transaction finishing
the last child wakes the run (a database trigger); its replay reads the children's
outcomes once and stores them as the step's output, so later replays read one row.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from conveyor.errors import ConfigurationError, JobFailed, Suspend
from conveyor.jobs import JobCall
from conveyor.observe import tracing
from conveyor.serialization import as_error, read_error, read_stored
from conveyor.timeunits import FAR_FUTURE

if TYPE_CHECKING:
    from conveyor.durable.engine import Run
    from conveyor.stores.base import NewJob, StepRow


def _rows(run: Run, calls: Sequence[JobCall], seq: int) -> list[NewJob]:
    rows = []
    for index, call in enumerate(calls):
        row = run.app.triggering.new_job(call, None, 0.0, {})
        row.parent_id, row.parent_seq, row.child_index = run.id, seq, index
        rows.append(row)
    return rows


def _check(method: str, key: str, calls: Sequence[Any]) -> list[JobCall]:
    found = []
    for call in calls:
        if not isinstance(call, JobCall):
            raise ConfigurationError(
                f"io.{method}({key!r}, ...) takes job calls like resize('a.png'), not {call!r}"
            )
        found.append(call)
    return found


def failure(error: dict[str, Any]) -> JobFailed:
    """The JobFailed a failed children step raises (the same on every replay)."""
    return JobFailed(int(error.get("job_id") or 0), str(error.get("state") or "failed"),
                     error.get("error"))


async def run_children(run: Run, method: str, key: str, calls: Sequence[Any]) -> list[Any]:
    """Start ``calls`` as children of ``run`` (once) and wait for them all durably;
    returns their results in order or raises JobFailed for the first that did not
    complete."""
    from conveyor.durable.engine import fingerprint

    checked = _check(method, key, calls)
    digest = fingerprint(method, [(c.definition.id, c.args, c.kwargs) for c in checked])
    with run.step("children", key, digest) as stored:
        if stored is not None and stored.state == "completed":
            result: list[Any] = run.stored(stored, "output", "[]")
            return result
        if stored is not None and stored.state == "failed":
            raise failure(as_error(run.stored(stored, "error", "{}")) or {})
        token = run.claimed.token
        if stored is None:
            seq = run.seq
            if not await _start(run, token, seq, _rows(run, checked, seq)):
                raise Suspend(FAR_FUTURE)
            jobs = sorted({c.definition.id for c in checked})
            step = run.new_step("children", key, digest, state="waiting",
                                input=json.dumps({"count": len(checked), "jobs": jobs}))
            await _suspend(run, token, step)
        assert stored is not None
        outcomes = await run.call(run.store.children_outcomes, run.id, stored.seq)
        if len(outcomes) < len(checked) or any(
            o[2] not in ("completed", "failed", "cancelled") for o in outcomes
        ):
            await _suspend(run, token, stored)  # woken early (a child was retried)
        for _, child_id, state, _, error in outcomes:
            if state != "completed":
                stored.state, stored.finished_at = "failed", await run.now()
                found = {
                    "type": "JobFailed", "module": "conveyor.errors", "job_id": child_id,
                    "state": state,
                    "message": str(JobFailed(child_id, state, read_error(error))),
                    "error": read_stored(error), "traceback": None,
                }
                stored.error = json.dumps(found)
                await run.save(stored)
                raise failure(found)
        stored.output = "[" + ", ".join(o[3] or "null" for o in outcomes) + "]"
        stored.state, stored.finished_at = "completed", await run.now()
        await run.save(stored)
        done: list[Any] = json.loads(stored.output)
        return done


async def _start(run: Run, token: int, seq: int, rows: list[NewJob]) -> bool:
    """Store the children of step ``seq`` (False when the run's lease is gone), each in a
    trigger span of its own under the run's attempt span when tracing is on."""
    if not tracing.enabled():
        return await run.call(run.store.start_children, run.id, token, seq, rows)
    spans = tracing.trigger_spans(rows)
    try:
        started = await run.call(run.store.start_children, run.id, token, seq, rows)
        ids = [o[1] for o in await run.call(run.store.children_outcomes, run.id, seq)]
    except BaseException as exc:
        tracing.end_trigger_spans(spans, [], exc)
        raise
    tracing.end_trigger_spans(spans, ids if started else [])
    return started


async def _suspend(run: Run, token: int, step: StepRow) -> None:
    due = await run.call(run.store.await_children, token, step, run.version)
    raise Suspend(due if due is not None else FAR_FUTURE)
