"""Blind probes of SPEC §8's events and durable steps: event payload matching, send_event
limits, one run per event id from many threads, ctx of event and replayed runs, falsy step
results, logger levels, calendar and absurd waits; every store."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import pytest

from conveyor import Conveyor, PayloadError
from tests.acceptance.blind_core.support import due, in_threads, record
from tests.conformance.helpers import ManualClock, drain


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



def test_send_event_limits(make: Callable[..., Conveyor]) -> None:
    app = make(max_payload=1_000, max_depth=3)
    with pytest.raises(PayloadError):
        app.send_event("big", {"x": "y" * 2_000})
    with pytest.raises(PayloadError, match=re.escape('payload["a"]["b"]')):
        app.send_event("deep", {"a": {"b": [[1]]}})
    app.send_event("fine", {"a": {"b": [1]}})



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
    assert handle.result(timeout=30) == [None, False, 0, "", [], None]
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
    assert handle.result(timeout=30) == "done"



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
    assert other.result(timeout=30) == "fine"
    assert [record(app, h).state for h in handles] == ["failed"] * 3
