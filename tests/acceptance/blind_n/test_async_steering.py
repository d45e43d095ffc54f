"""SPEC §3, §4, §5, §9, §10 from async code: lookups and steering called inside a running
event loop (a test coroutine, an async job on the worker's loop, an async hook) do what
they do from sync code, on every store (no deadlock on a loop-bound pool)."""

from __future__ import annotations

from typing import Any

from conveyor import Conveyor, JobRecord, chain, group

from ..support import record_of


def steer(app: Conveyor, tag: str) -> dict[str, Any]:
    """Every lookup and steering call SPEC names, on jobs tagged ``tag``; what each gave."""
    target = app.jobs.target
    later = target({"tag": tag, "n": 1}).run_in(1, "hour", key=tag)
    kept = target({"tag": tag, "n": 2}).run_in(1, "hour", key=tag, unique=True)
    other = target({"tag": tag, "n": 3}).run_in(2, "hours")
    scheduled = app.schedule_job(type="target", data={"tag": tag, "n": 4}, schedule="every day",
                                 key=f"sched-{tag}")
    app.pause(job="target")
    paused = app.paused_jobs()
    app.resume(job="target")
    retried_unknown = app.retry(10**9)
    return {
        "kept": kept.id == later.id,
        "found": record_of(app, later.id).args == [{"tag": tag, "n": 1}],
        "unknown": app.get_job(10**9),
        "cancel_one": app.cancel(other.id),
        "cancel_again": app.cancel(other.id),
        "cancelled": app.cancel_jobs(type="target", data={"tag": tag}),
        "schedule_ended": record_of(app, scheduled.id).state,
        "paused": "target" in paused,
        "retried_unknown": retried_unknown,
        "listed": sorted(r.state for r in app.jobs_list(job="target")
                         if r.args and r.args[0] and r.args[0].get("tag") == tag),
        "event": app.send_event(f"steer.{tag}", {"tag": tag}, id=f"evt-{tag}") is not None,
        "event_again": app.send_event(f"steer.{tag}", {"tag": tag}, id=f"evt-{tag}") is not None,
    }


def define(app: Conveyor) -> list[dict[str, Any]]:
    outcomes: list[dict[str, Any]] = []

    @app.job
    def target(payload: Any) -> Any:
        return payload

    @app.job
    def add(x: int, y: int = 0) -> int:
        return x + y

    @app.job
    async def steering_job(tag: str) -> str:
        outcomes.append(steer(app, tag))
        return tag

    @app.on("completed")
    async def steer_in_hook(record: JobRecord, error: Any = None) -> None:
        if record.job == "steering_job" and record.result == "job":
            outcomes.append(steer(app, "hook"))

    return outcomes


async def test_steering_from_async_code_matches_sync_code(app: Conveyor) -> None:
    outcomes = define(app)
    from_sync = steer(app, "sync")
    from_loop = steer(app, "loop")
    await app.jobs.steering_job("job").run_now()
    await app.run_worker_async(burst=True)
    assert len(outcomes) == 2, outcomes
    for outcome in (from_loop, *outcomes):
        assert outcome == from_sync, (outcome, from_sync)
    assert from_sync["cancelled"] >= 1 and from_sync["schedule_ended"] == "cancelled"


async def test_workflows_awaited_from_async_code(app: Conveyor) -> None:
    define(app)
    add = app.jobs.add
    flow = chain(add(1, 2), group(add(y=10), add(y=20)), app.jobs.target())
    handle = flow.run_now()
    await app.run_worker_async(burst=True)
    assert await handle.wait(timeout=30) == [13, 23] == handle.result(timeout=30)
