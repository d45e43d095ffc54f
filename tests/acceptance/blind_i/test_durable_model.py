"""SPEC §5 as a model, on every store: a durable job running any sequence of tasks,
durable sleeps (in any unit up to days), log lines and sent events is one attempt that
goes ``waiting`` at each sleep, is not due a microsecond before the sleep ends and is at
its end; every task runs once, every line is stored once, every event is sent once, and
the output is what the same code returns without replays."""

from __future__ import annotations

from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from conveyor import Conveyor
from conveyor.testing import run_until_idle
from tests.conformance.helpers import ManualClock

FIXTURE_REUSED = settings(
    max_examples=6, deadline=None, suppress_health_check=[
        HealthCheck.too_slow, HealthCheck.function_scoped_fixture]
)
SLEEPS = {"second": 1, "minute": 60, "hour": 3600, "day": 86400}
LINES = st.text("abcé€😀 ", min_size=1, max_size=8).map(str.strip).filter(bool)
OPS = st.lists(
    st.tuples(st.just("task"), st.integers(-5, 5))
    | st.tuples(st.just("sleep"), st.tuples(st.sampled_from([0.5, 1, 2.25, 3]),
                                            st.sampled_from(sorted(SLEEPS))))
    | st.tuples(st.just("log"), LINES)
    | st.tuples(st.just("event"), st.integers(0, 3)),
    min_size=1, max_size=7,
)  # fmt: skip


@FIXTURE_REUSED
@given(ops=OPS)
def test_a_durable_program_replays_to_its_one_output(
    capp: Conveyor, clock: ManualClock, ops: list[tuple[str, Any]]
) -> None:
    name = f"program-{len(capp.jobs)}"
    ran: list[int] = []

    def double(x: int) -> int:
        ran.append(x)
        return x * 2

    @capp.job(name)
    async def program(io: Any) -> list[Any]:
        out: list[Any] = []
        for i, (op, arg) in enumerate(ops):
            if op == "task":
                out.append(await io.task(f"t{i}", double, arg))
            elif op == "sleep":
                await io.wait(f"s{i}", arg[0], arg[1])
            elif op == "log":
                await io.logger.info(arg, step=i)
            else:
                await io.send_event(f"e{i}", f"{name}.sent", {"n": arg})
        return out

    handle = program().run_now()
    run_until_idle(capp)
    for op, arg in ops:
        if op != "sleep":
            continue
        record = capp.get_job(handle.id)
        assert record is not None and record.state == "waiting"
        seconds = arg[0] * SLEEPS[arg[1]]
        clock.advance(seconds=seconds - 1e-6)
        run_until_idle(capp)
        record = capp.get_job(handle.id)
        assert record is not None and record.state == "waiting"
        clock.advance(seconds=1e-6)
        run_until_idle(capp)
    record = capp.get_job(handle.id)
    assert record is not None and record.state == "completed", record
    tasks = [arg for op, arg in ops if op == "task"]
    assert record.result == [x * 2 for x in tasks] and ran == tasks
    assert record.attempts == 1
    logged = [(a, i) for i, (o, a) in enumerate(ops) if o == "log"]
    assert [line.message for line in record.logs] == [f"{a} step={i}" for a, i in logged]
    sent = [e for e in capp.events_list() if e.name == f"{name}.sent"]
    assert sorted(e.payload["n"] for e in sent) == sorted(a for o, a in ops if o == "event")
