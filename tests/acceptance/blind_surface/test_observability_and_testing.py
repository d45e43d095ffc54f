"""Blind acceptance tests of SPEC §11 (hooks, metrics, logs) and §12 (testing helpers);
every store."""

from __future__ import annotations

import asyncio
import logging
import math
from datetime import UTC, datetime
from typing import Any

import pytest
from starlette.applications import Starlette
from starlette.testclient import TestClient

from conveyor import Conveyor, Fail, JobFailed, Retry
from conveyor.testing import FakeClock, enqueued, inline, run_until_idle
from tests.acceptance.blind_surface.support import (
    AFTER,
    u,
)
from tests.conformance.helpers import drain


def test_hooks_see_each_state_after_it_is_stored(app: Conveyor) -> None:
    calls: list[tuple[str, str, Any]] = []

    for event in ("started", "completed", "failed", "retrying"):
        def hook(record: Any, error: Any = None, event: str = event) -> None:
            stored = app.get_job(record.id)
            calls.append((event, stored.state if stored else "", error))
        app.on(event)(hook)

    @app.job(retry=Retry(retries=1, wait=0))
    def flaky(fail_times: int, meta: Any) -> str:
        if meta.attempt <= fail_times:
            raise ValueError(f"attempt {meta.attempt} ✗")
        return "ok"

    flaky(1).run_now()
    drain(app)
    events = [c[0] for c in calls]
    assert events.count("started") == 2
    assert events.count("retrying") == 1 and events.count("completed") == 1
    assert ("completed", "completed", None) in calls
    calls.clear()
    flaky(5).run_now()
    drain(app)
    failed = [c for c in calls if c[0] == "failed"]
    assert len(failed) == 1 and failed[0][1] == "failed"
    assert "attempt 2 ✗" in str(failed[0][2])


def test_async_and_failing_hooks_never_fail_the_job(app: Conveyor,
                                                    caplog: pytest.LogCaptureFixture) -> None:
    seen: list[Any] = []

    @app.on("completed")
    async def async_hook(record: Any, error: Any = None) -> None:
        await asyncio.sleep(0)
        seen.append(record.result)

    @app.on("completed")
    def broken_hook(record: Any, error: Any = None) -> None:
        raise ZeroDivisionError("hook bug")

    @app.job
    def fine() -> str:
        return "done ✓"

    with caplog.at_level(logging.DEBUG, logger="conveyor"):
        h = fine().run_now()
        drain(app)
    assert h.result(timeout=10) == "done ✓"
    assert seen == ["done ✓"]
    assert "hook bug" in caplog.text


def test_a_cancelled_hook_fires(app: Conveyor) -> None:
    cancelled: list[int] = []

    @app.on("cancelled")
    def hook(record: Any, error: Any = None) -> None:
        cancelled.append(record.id)

    @app.job
    def idle() -> None: ...

    h = idle().run_in(1, "day")
    app.cancel(h.id)
    drain(app)
    assert cancelled == [h.id]


def test_an_unknown_hook_event_is_refused(sqlite_app: Conveyor) -> None:
    with pytest.raises(ValueError):
        sqlite_app.on("finished")


def test_the_worker_logs_each_outcome(app: Conveyor, caplog: pytest.LogCaptureFixture) -> None:
    @app.job(retry=Retry(retries=0))
    def logged(ok: bool) -> None:
        if not ok:
            raise RuntimeError("wrecked ☂")

    with caplog.at_level(logging.DEBUG, logger="conveyor"):
        logged(True).run_now()
        logged(False).run_now()
        drain(app)
    outcomes = [r.getMessage() for r in caplog.records if r.name.startswith("conveyor")]
    assert any("logged" in m and "complet" in m for m in outcomes)
    assert any("wrecked ☂" in m for m in outcomes)


def test_the_lifespan_worker_runs_jobs_in_the_web_process(app: Conveyor) -> None:
    @app.job
    def web_job(x: int) -> int:
        return -x

    web = Starlette(lifespan=app.lifespan(worker=True, concurrency=2))
    with TestClient(web):
        h = web_job(7).run_now()
        assert h.result(timeout=20) == -7


def test_fake_clock_crosses_a_leap_day_for_a_cron_schedule(app: Conveyor) -> None:
    ran: list[datetime] = []

    @app.job(trigger=app.cron("0 0 29 2 *"))
    def leap() -> None:
        ran.append(datetime.now(UTC))

    with FakeClock(app, start=u(2032, 2, 28, 23, 59, 30)) as clock:
        run_until_idle(app, clock=clock)
        assert ran == []
        clock.advance(1, "minute")
        run_until_idle(app, clock=clock)
        assert len(ran) == 1
        pending = app.jobs_list(job="leap", state="scheduled")
    assert [r.run_at for r in pending] == [u(2036, 2, 29)]


@pytest.mark.parametrize(("n", "unit"), [(-1, "second"), (math.nan, "minutes"),
                                         (math.inf, "hours"), (1, "fortnight")])
def test_fake_clock_refuses_nonsense(sqlite_app: Conveyor, n: float, unit: str) -> None:
    with FakeClock(sqlite_app, start=AFTER) as clock, pytest.raises(ValueError):
        clock.advance(n, unit)


def test_fake_clock_drives_retries(app: Conveyor) -> None:
    attempts: list[int] = []

    @app.job(retry=Retry(retries=2, wait="1 hour", backoff="linear"))
    def slowly(meta: Any) -> str:
        attempts.append(meta.attempt)
        if meta.attempt < 3:
            raise RuntimeError("again")
        return "third time"

    with FakeClock(app, start=AFTER) as clock:
        h = slowly().run_now()
        run_until_idle(app, clock=clock)
        clock.advance(59, "minutes")
        run_until_idle(app, clock=clock)
        assert attempts == [1]
        clock.advance(1, "minute")
        run_until_idle(app, clock=clock)
        assert attempts == [1, 2]
        clock.advance(2, "hours")
        run_until_idle(app, clock=clock)
    assert h.result(timeout=10) == "third time"


def test_inline_fail_is_stored_and_result_raises(app: Conveyor) -> None:
    @app.job
    def refuses(reason: str) -> None:
        raise Fail(reason)

    with inline(app):
        h = refuses("nein ✗").run_now()
    with pytest.raises(JobFailed) as caught:
        h.result(timeout=30)
    assert "nein ✗" in str(caught.value)
    assert app.get_job(h.id).state == "failed"  # type: ignore[union-attr]


def test_enqueued_matches_unicode_and_keyword_payload_subsets(app: Conveyor) -> None:
    @app.job
    def mail(payload: Any) -> None: ...

    mail({"to": "zoë@例え.jp", "n": 0}).run_in(1, "day")
    mail({"to": "bob@example.com", "n": 0}).run_in(1, "day")
    found = enqueued(app, job="mail", to="zoë@例え.jp")
    assert len(found) == 1
    assert len(enqueued(app, job="mail", n=0)) == 2
    assert enqueued(app, job="mail", n=1) == []

    @app.job
    def kw(*, shop: int, tag: str) -> None: ...

    kw(shop=0, tag="ñ").run_in(1, "hour")
    kw(shop=-1, tag="ñ").run_in(1, "hour")
    assert len(enqueued(app, job="kw", tag="ñ")) == 2
    assert len(enqueued(app, job="kw", shop=0)) == 1
    assert app.cancel_jobs(type="kw", data={"shop": -1}) == 1


def test_conveyor_app_fixture_runs_schedules(conveyor_app: Conveyor) -> None:
    @conveyor_app.job(trigger=conveyor_app.every("1 hour"))
    def hourly() -> None: ...

    with FakeClock(conveyor_app, start=AFTER) as clock:
        run_until_idle(conveyor_app, clock=clock)
        clock.advance(1, "hour")
        run_until_idle(conveyor_app, clock=clock)
    states = sorted(r.state for r in conveyor_app.jobs_list(job="hourly"))
    assert states == ["completed", "scheduled"]
