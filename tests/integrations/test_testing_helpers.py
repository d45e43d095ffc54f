"""conveyor.testing: inline, run_until_idle, FakeClock, enqueued, the pytest plugin."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from conveyor import Conveyor, JobFailed, Retry
from conveyor.testing import FakeClock, enqueued, inline, run_until_idle

# The conveyor_app fixture comes from the installed pytest11 entry point (conveyor.testing.plugin).


@pytest.fixture
def local_app(app: Conveyor) -> Conveyor:
    """Every store (memory, SQLite, PostgreSQL)."""
    return app


def test_conveyor_app_fixture_is_a_memory_app(conveyor_app: Conveyor) -> None:
    assert conveyor_app.url.startswith("memory")


def test_inline_runs_every_trigger_inside_the_call(local_app: Conveyor) -> None:
    app = local_app
    calls: list[int] = []

    @app.job
    def double(x: int) -> int:
        calls.append(x)
        return x * 2

    @app.job
    def fan_out(n: int) -> None:
        for i in range(n):
            double(i).run_in(1, "hour")

    @app.job(retry=Retry(retries=2, wait="10 minutes"))
    def broken() -> None:
        raise ValueError("nope")

    with inline(app):
        h = double(21).run_in(30, "minutes")
        assert app.get_job(h.id).state == "completed"  # type: ignore[union-attr]
        assert h.result(timeout=30) == 42
        fan_out(3).run_now()
        assert sorted(calls) == [0, 1, 2, 21]
        bad = broken().run_now()
        record = app.get_job(bad.id)
        assert record is not None and record.state == "failed" and record.attempts == 3
        with pytest.raises(JobFailed):
            bad.result(timeout=30)
    later = double(1).run_in(1, "hour")  # outside the block: stored, not run
    assert app.get_job(later.id).state == "scheduled"  # type: ignore[union-attr]


def test_inline_skips_durable_waits(conveyor_app: Conveyor) -> None:
    app = conveyor_app

    @app.job
    async def onboard(user: str, io: Any) -> str:
        await io.wait("cool-off", 3, "days")
        return f"welcomed {user}"

    with inline(app):
        h = onboard("ann").run_now()
        assert app.get_job(h.id).result == "welcomed ann"  # type: ignore[union-attr]


def test_fake_clock_drives_a_three_day_durable_wait_and_a_schedule(local_app: Conveyor) -> None:
    app = local_app
    clock = FakeClock(app, start=datetime(2030, 1, 7, 8, 0, tzinfo=UTC))  # a Monday
    ticks: list[datetime] = []

    @app.job
    async def onboard(user: str, io: Any) -> str:
        await io.wait("cool-off", 3, "days")
        return f"welcomed {user}"

    @app.job(trigger=app.every("1 hour"))
    def hourly() -> None:
        ticks.append(datetime.now(UTC))

    h = onboard("ann").run_now()
    run_until_idle(app, clock)
    assert app.get_job(h.id).state == "waiting"  # type: ignore[union-attr]
    clock.advance(2, "days")
    run_until_idle(app, clock)
    assert app.get_job(h.id).state == "waiting"  # type: ignore[union-attr]
    clock.advance(1, "day")
    run_until_idle(app, clock)
    done = app.get_job(h.id)
    assert done is not None and done.state == "completed" and done.result == "welcomed ann"
    assert ticks, "the hourly schedule ran on the moved clock"
    assert all(t.year == 2030 for t in ticks)
    before = len(ticks)
    clock.advance(1, "hour")
    run_until_idle(app, clock)
    assert len(ticks) == before + 1
    clock.stop()
    assert datetime.now(UTC).year < 2030


def test_fake_clock_moves_delays_and_retries(local_app: Conveyor) -> None:
    app = local_app
    runs: list[int] = []

    @app.job(retry=Retry(retries=1, wait="1 hour"))
    def flaky(n: int) -> str:
        runs.append(n)
        if len(runs) == 1:
            raise RuntimeError("first time")
        return "ok"

    with FakeClock(app) as clock:
        h = flaky(1).run_in(1, "day")
        run_until_idle(app)
        assert runs == []
        clock.advance(1, "day")
        run_until_idle(app)
        assert runs == [1] and app.get_job(h.id).state == "scheduled"  # type: ignore[union-attr]
        clock.advance(1, "hour")
        run_until_idle(app)
        assert app.get_job(h.id).result == "ok"  # type: ignore[union-attr]


def test_enqueued_filters_by_job_and_payload_subset(conveyor_app: Conveyor) -> None:
    app = conveyor_app

    @app.job
    def email(message: dict[str, Any]) -> None: ...

    @app.job
    def other() -> None: ...

    email({"to": "a@x.org", "kind": "welcome"}).run_now()
    email({"to": "b@x.org", "kind": "welcome"}).run_in(1, "day")
    other().run_now()
    assert len(enqueued(app)) == 3
    assert len(enqueued(app, email)) == 2
    assert [r.args[0]["to"] for r in enqueued(app, "email", kind="welcome")] == [
        "a@x.org", "b@x.org"]
    assert [r.args[0]["to"] for r in enqueued(app, email, to="b@x.org")] == ["b@x.org"]
    assert enqueued(app, email, to="c@x.org") == []


async def test_run_until_idle_from_async_code(conveyor_app: Conveyor) -> None:
    app = conveyor_app

    @app.job
    async def hello() -> str:
        return "hi"

    h = await hello().run_now()
    run_until_idle(app)
    assert await h.wait(timeout=30) == "hi"


async def test_inline_runs_awaited_triggers_too(conveyor_app: Conveyor) -> None:
    app = conveyor_app

    @app.job
    async def greet(name: str) -> str:
        return f"hi {name}"

    with inline(app):
        handle = await greet("ann").run_now()
        record = app.get_job(handle.id)
        assert record is not None and record.state == "completed"
        assert await handle.wait(timeout=30) == "hi ann"
