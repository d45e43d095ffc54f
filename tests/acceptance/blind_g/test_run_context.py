"""SPEC §5 ctx and io.logger across replays and retries; §12 inline with task retries."""

from __future__ import annotations

from typing import Any

from conveyor import Conveyor, Retry
from conveyor.testing import inline
from tests.acceptance.blind_g.support import rec, settle
from tests.conformance.helpers import ManualClock


def test_ctx_gives_version_and_attempt_on_every_attempt(capp: Conveyor,
                                                        clock: ManualClock) -> None:
    seen: list[list[Any]] = []

    @capp.job("versioned-ü", version="2.10.0-rc.1", retry=Retry(retries=1, wait=0))
    async def versioned(io: Any, ctx: Any, meta: Any) -> Any:
        seen.append([ctx.run_id, ctx.job_id, ctx.version, ctx.attempt, meta.attempt])
        await io.wait("nap", 1, "minute")
        if ctx.attempt == 1:
            raise RuntimeError("once more")
        return ctx.trigger

    h = versioned().run_now()
    settle(capp, clock, minutes=1)
    settle(capp, clock, minutes=1)
    assert h.result(timeout=30) == {"type": "invoke"}
    run = [h.id, "versioned-ü", "2.10.0-rc.1"]
    assert seen == [[*run, 1, 1], [*run, 1, 1], [*run, 2, 2]]
    assert rec(capp, h).version == "2.10.0-rc.1" and rec(capp, h).attempts == 2


def test_a_scheduled_run_names_its_schedule_in_ctx(capp: Conveyor, clock: ManualClock) -> None:
    @capp.job(trigger=capp.every("15 minutes"))
    async def ticking(io: Any, ctx: Any) -> Any:
        return ctx.trigger

    settle(capp, clock, minutes=15)  # the first start stores the schedule's occurrence
    [done] = capp.jobs_list(job="ticking", state="completed")
    assert done.result["type"] == "schedule" and done.result["schedule_id"]


def test_log_lines_are_stored_once_with_their_level_across_replays(
        capp: Conveyor, clock: ManualClock) -> None:
    @capp.job
    async def chatty(io: Any) -> None:
        await io.logger.debug("d ü")
        await io.logger.info("i", user="ann", n=[1, 2])
        await io.logger.log("as info")
        await io.wait("nap", 1, "minute")
        await io.logger.warn("w")
        await io.logger.error("e")

    h = chatty().run_now()
    settle(capp, clock, minutes=1)
    lines = [(entry.level, entry.message) for entry in rec(capp, h).logs]
    assert [m for _, m in lines].count("as info") == 1
    for level, text in [("info", "as info"), ("warn", "w"), ("error", "e")]:
        assert sum(1 for lv, m in lines if m == text and lv.startswith(level)) == 1, lines
    [info] = [m for _, m in lines if m.startswith("i ")]
    assert "ann" in info


def test_inline_runs_a_task_retry_waiting_an_hour_at_once(app: Conveyor) -> None:
    tries: list[int] = []

    def flaky() -> str:
        tries.append(1)
        if len(tries) < 3:
            raise ConnectionError("flaky")
        return "ok"

    @app.job
    async def patient(io: Any) -> Any:
        return await io.task("flaky", flaky, retry=Retry(retries=2, wait=3600))

    with inline(app):
        h = patient().run_now()
        assert h.result(timeout=0) == "ok"
    assert len(tries) == 3
