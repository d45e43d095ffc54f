"""SPEC §2, §4, §8: a sync and an async body (an ``@app.job`` and an ``add_worker``
function) meeting the same odd outcome store the same record: state, error type and
message, result."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import Any

from conveyor import Conveyor, RetryIn

from ..support import record_of
from .test_async_parity import nested


def _raise(exc: BaseException) -> Any:
    raise exc


OUTCOMES: dict[str, Callable[[], Any]] = {
    "set result": lambda: {1},
    "nan result": lambda: float("nan"),
    "too deep result": lambda: nested(70),
    "nul result": lambda: "a\x00b",
    "too big result": lambda: "x" * (2 * 1024 * 1024),
    "odd result": lambda: {"": [None, -0.0, 2**62, "\u2028"]},
    "retry in": lambda: _raise(RetryIn(30)),
    "keyboard interrupt": lambda: _raise(KeyboardInterrupt()),
    "system exit": lambda: _raise(SystemExit(3)),
    "unstorable message": lambda: _raise(ValueError("\ud800\x00")),
}
TOO_SLOW = "past its timeout"


def _outcome(record: Any) -> tuple[Any, ...]:
    error = record.error and (record.error["type"], record.error["message"])
    return record.state, error, record.result, record.attempts


def test_sync_and_async_bodies_store_identical_outcomes(app: Conveyor) -> None:
    @app.job(retry=0)
    def sync_body(case: str) -> Any:
        if case == TOO_SLOW:
            time.sleep(0.6)
        return OUTCOMES[case]() if case in OUTCOMES else case

    @app.job(retry=0)
    async def async_body(case: str) -> Any:
        if case == TOO_SLOW:
            await asyncio.sleep(0.6)
        return OUTCOMES[case]() if case in OUTCOMES else case

    def sync_worker(job: Any) -> None:
        case = job.data["case"]
        if case == "fail":
            job.fail("explicit\x00failure")
        elif case == "raise":
            raise LookupError("raised")
        else:
            job.done("fine")

    async def async_worker(job: Any) -> None:
        sync_worker(job)

    app.add_worker(type="sync-worker", worker=sync_worker)
    app.add_worker(type="async-worker", worker=async_worker)

    pairs = {case: (sync_body(case).run_now().id, async_body(case).run_now().id)
             for case in OUTCOMES}
    # Only the slow case has a timeout: a loaded machine cannot push a quick one past it.
    pairs[TOO_SLOW] = (sync_body(TOO_SLOW).run_now(timeout=0.3).id,
                       async_body(TOO_SLOW).run_now(timeout=0.3).id)
    for case in ("fail", "raise", "done"):
        pairs[f"worker {case}"] = tuple(  # type: ignore[assignment]
            app.schedule_job(type=kind, data={"case": case}, retry=0).id
            for kind in ("sync-worker", "async-worker"))
    app.run_worker(burst=True)

    for case, (sync_id, async_id) in pairs.items():
        sync_outcome = _outcome(record_of(app, sync_id))
        assert sync_outcome == _outcome(record_of(app, async_id)), case
        assert sync_outcome[0] in {"completed", "failed", "scheduled"}, (case, sync_outcome)
    assert record_of(app, pairs["retry in"][0]).state == "scheduled"
    assert record_of(app, pairs["too big result"][1]).error["type"] == "PayloadError"


async def test_sync_and_async_hooks_see_the_same_events(app: Conveyor) -> None:
    seen: dict[str, list[tuple[Any, ...]]] = {"sync": [], "async": []}

    def hooks_for(event: str) -> tuple[Callable[..., None], Callable[..., Any]]:
        def note(kind: str, record: Any, error: Any) -> None:
            seen[kind].append((event, record.job, record.state,
                               error and (type(error).__name__, str(error))))

        def sync_hook(record: Any, error: Any = None) -> None:
            note("sync", record, error)

        async def async_hook(record: Any, error: Any = None) -> None:
            note("async", record, error)

        return sync_hook, async_hook

    for event in ("started", "completed", "failed", "retrying", "cancelled"):
        for hook in hooks_for(event):
            app.on(event, hook)

    @app.job(retry=1)
    def flaky(meta: Any) -> int:
        if meta.attempt == 1:
            raise ValueError("first")
        return 1

    @app.job(retry=0)
    def broken() -> None:
        raise KeyError("k")

    @app.job
    def dependent() -> None: ...

    flaky().run_now()
    dependent().run_now(depends_on=[await broken().run_now()])
    await app.run_worker_async(burst=True)
    assert sorted(seen["sync"]) == sorted(seen["async"])
    assert {entry[0] for entry in seen["sync"]} == {
        "started", "completed", "failed", "retrying", "cancelled"}
