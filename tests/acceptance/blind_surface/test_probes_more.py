"""Blind probes across SPEC §6-12: midnights that do not exist, abandoned threads,
waiting parents, redeploys, shutdown, tracing, Flask, owners, sessions."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from conveyor import Conveyor, Fail, Retry
from conveyor.testing import FakeClock, inline, run_until_idle
from tests.acceptance.blind_surface.support import (
    AFTER,
    APP_SOURCE,
    NEW_YORK,
    _env,
    _next,
    _run_id,
    run_cli,
    u,
)
from tests.conformance.helpers import drain
from tests.support import memory_spans


@pytest.mark.parametrize("text", ["every day at midnight", "0 0 * * *"])
def test_a_daily_midnight_survives_a_day_that_starts_at_one(text: str) -> None:
    santiago = ZoneInfo("America/Santiago")  # 2030-09-08 00:00 does not exist there
    times = _next(text, after=u(2030, 9, 6, 12), count=4, tz="America/Santiago")
    assert times == sorted(set(times))
    dates = [t.astimezone(santiago).date() for t in times]
    assert len(set(dates)) == 4
    assert datetime(2030, 9, 9).date() in dates


def test_every_5_hours_restarts_each_local_day_across_fall_back() -> None:
    times = _next("every 5 hours", after=u(2030, 11, 3, 3), count=5, tz="America/New_York")
    assert [t.astimezone(NEW_YORK).hour for t in times] == [0, 5, 10, 15, 20]


def test_a_sync_job_past_its_timeout_is_failed_on_time(app: Conveyor) -> None:
    import threading
    import time

    release = threading.Event()

    @app.job(timeout=0.5, retry=Retry(retries=0))
    def stuck() -> None:
        release.wait(20)

    try:
        h = stuck().run_now()
        started = time.monotonic()
        drain(app)
        assert time.monotonic() - started < 10
        rec = app.get_job(h.id)
        assert rec is not None and rec.state == "failed"
        assert "time" in str(rec.error).lower()
    finally:
        release.set()


def test_a_parent_awaiting_a_held_child_is_waiting(app: Conveyor) -> None:
    @app.job("kind-ü")
    def kid(x: int) -> int:
        return x + 1

    @app.job
    async def parent(io: Any) -> Any:
        return await io.run_job("kid", kid(41))

    app.pause(job="kind-ü")
    h = parent().run_now()
    drain(app)
    rec = app.get_job(h.id)
    assert rec is not None and rec.state == "waiting"
    assert [app.get_job(c if isinstance(c, int) else c.id).state  # type: ignore[union-attr]
            for c in rec.children] == ["queued"]
    app.resume(job="kind-ü")
    drain(app)
    assert h.result(timeout=10) == 42


def test_inline_runs_children_waits_and_dependencies(app: Conveyor) -> None:
    @app.job
    def base(x: int) -> int:
        return x * 3

    @app.job
    async def flow(io: Any) -> Any:
        first = await io.run_job("one", base(2))
        await io.wait("pause", 3, "days")
        return [first, *(await io.run_jobs("many", [base(1), base(-1)]))]

    with inline(app):
        h = flow().run_now()
        assert h.result(timeout=30) == [6, 3, -3]
        dep = base(5).run_now()
        after = base(7).run_now(depends_on=[dep])
        assert after.result(timeout=30) == 21


def test_cli_app_option_after_the_verb_and_before_it(cli_app: Path, monkeypatch: pytest.MonkeyPatch
                                                     ) -> None:
    monkeypatch.delenv("CONVEYOR_APP")
    for args in (("--app", f"{cli_app}:app", "jobs"), ("jobs", "--app", "blind_jobs:app")):
        result = run_cli(*args)
        assert result.exit_code == 0, result.output
        assert "grüße" in result.stdout


def test_redeploying_a_changed_schedule_replaces_its_pending_occurrence(
        open_app: Callable[..., Conveyor]) -> None:
    for text, expected in (("every day", u(2030, 1, 5)), ("every hour", u(2030, 1, 4, 9))):
        deployed = open_app()
        with FakeClock(deployed, start=AFTER) as clock:
            @deployed.job("nightly-ü", trigger=deployed.schedule(text))
            def nightly() -> None: ...

            run_until_idle(deployed, clock=clock)
            pending = deployed.jobs_list(job="nightly-ü", state="scheduled")
        assert [r.run_at for r in pending] == [expected], text


def test_sigterm_releases_a_job_that_outlives_the_grace(cli_app: Path, url: str) -> None:
    import signal
    import time

    slow = cli_app.parent / "slow_jobs.py"
    slow.write_text(APP_SOURCE + textwrap.dedent("""
        @app.job("lent-ü")
        def lent():
            import time
            time.sleep(60)
    """))
    run_id = _run_id(run_cli("run", "lent-ü", "--app", f"{slow}:app"))
    worker = subprocess.Popen(
        [sys.executable, "-m", "conveyor", "worker", f"{slow}:app", "--grace", "0.5"],
        cwd=cli_app.parent, env=_env(), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    with Conveyor(url) as reader:
        deadline = time.monotonic() + 30
        while reader.get_job(run_id).state != "running":  # type: ignore[union-attr]
            assert time.monotonic() < deadline and worker.poll() is None
            time.sleep(0.1)
        worker.send_signal(signal.SIGTERM)
        assert worker.wait(timeout=20) == 0, worker.stderr.read() if worker.stderr else ""
        rec = reader.get_job(run_id)
    assert rec is not None and rec.state in ("queued", "scheduled"), rec


def test_traces_link_the_trigger_and_the_attempt(app: Conveyor) -> None:
    from opentelemetry import trace

    @app.job
    def traced() -> None: ...

    with memory_spans() as exporter:
        with trace.get_tracer("blind").start_as_current_span("outer") as outer:
            traced().run_now()
        drain(app)
    trace_id = outer.get_span_context().trace_id
    mine = [s for s in exporter.get_finished_spans()
            if s.context is not None and s.context.trace_id == trace_id and s.name != "outer"]
    assert len(mine) >= 2, [s.name for s in exporter.get_finished_spans()]


def test_flask_gets_the_cli_verbs(app: Conveyor) -> None:
    from flask import Flask

    from conveyor.contrib.flask import init_app

    @app.job("flask-ü")
    def in_flask() -> None: ...

    web = Flask("blind")
    init_app(web, app)
    result = web.test_cli_runner().invoke(args=["conveyor", "jobs"])
    assert result.exit_code == 0, result.output
    assert "flask-ü" in result.output


def test_the_cancelled_hook_reports_dependents_the_graph_cancels(app: Conveyor) -> None:
    cancelled: list[int] = []

    @app.on("cancelled")
    def hook(record: Any, error: Any = None) -> None:
        assert record.state == "cancelled"
        cancelled.append(record.id)

    @app.job(retry=Retry(retries=0))
    def broken() -> None:
        raise Fail("no ✗")

    @app.job
    def below(x: Any = None) -> None: ...

    root = broken().run_now()
    chain_ = [below().run_now(depends_on=[root])]
    chain_.append(below().run_now(depends_on=chain_))
    drain(app)
    assert sorted(cancelled) == [h.id for h in chain_]  # by the worker that failed root
    cancelled.clear()
    top = below().run_in(1, "day")
    under = below().run_now(depends_on=[top])
    app.cancel(top.id, cascade=True)
    drain(app)
    assert sorted(cancelled) == [top.id, under.id]  # by the canceller


def test_the_cancelled_hook_reports_child_runs_a_cascade_cancels(app: Conveyor) -> None:
    cancelled: list[int] = []

    @app.on("cancelled")
    def hook(record: Any, error: Any = None) -> None:
        cancelled.append(record.id)

    @app.job("enfant-ü")
    def child(x: int) -> int:
        return x

    @app.job
    async def parent(io: Any) -> Any:
        return await io.run_jobs("kids", [child(1), child(2)])

    app.pause(job="enfant-ü")
    top = parent().run_now()
    drain(app)
    kids = app.get_job(top.id).children  # type: ignore[union-attr]
    app.cancel(top.id, cascade=True)
    drain(app)
    assert sorted(cancelled) == sorted([top.id, *kids])


def test_the_cancelled_hook_reports_a_dependent_cancelled_as_it_is_triggered(
        app: Conveyor) -> None:
    cancelled: list[int] = []

    @app.on("cancelled")
    def hook(record: Any, error: Any = None) -> None:
        cancelled.append(record.id)

    @app.job(retry=Retry(retries=0))
    def gone() -> None:
        raise Fail("gone ✗")

    @app.job
    def late(x: Any = None) -> None: ...

    failed = gone().run_now()
    drain(app)
    dependent = late().run_now(depends_on=[failed])
    drain(app)
    assert cancelled == [dependent.id]
