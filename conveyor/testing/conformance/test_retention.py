"""Retention, remove_delay and purge (SPEC §4)."""

from __future__ import annotations

from typing import Any

import pytest

from conveyor import Conveyor

from .helpers import NewApp, drain


@pytest.fixture
def ok(app: Conveyor) -> object:
    @app.job
    def ok(fail: bool = False) -> None:
        if fail:
            raise RuntimeError("asked to fail")

    return ok


def _exists(app: Conveyor, *handles: Any) -> list[bool]:
    return [app.get_job(h.id) is not None for h in handles]


def test_retention_purges_finished_jobs_after_that_long(app: Conveyor, ok) -> None:
    gone = ok().run_now(retention=0)
    gone_failed = ok(True).run_now(retention="0 seconds")
    kept = ok().run_now(retention="1 day")
    forever = ok().run_now()
    pending = ok().run_in(1, "hour", retention=0)
    drain(app)
    app.purge(expired=True)
    assert _exists(app, gone, gone_failed, kept, forever, pending) == [
        False, False, True, True, True]


def test_a_jobs_retention_applies_to_its_definition(app: Conveyor) -> None:
    @app.job(retention=0)
    def short_lived() -> None: ...

    h = short_lived().run_now()
    kept = short_lived().run_now(retention="7 days")  # the trigger overrides it
    drain(app)
    app.purge(expired=True)
    assert _exists(app, h, kept) == [False, True]


def test_the_apps_retention_is_the_default(new_app: NewApp) -> None:
    with new_app(retention=0) as app:
        @app.job
        def j() -> None: ...

        h = j().run_now()
        kept = j().run_now(retention="1 hour")
        drain(app)
        app.purge(expired=True)
        assert _exists(app, h, kept) == [False, True]


def test_remove_delay_removes_only_completed_jobs(app: Conveyor, ok) -> None:
    done = ok().run_now(remove_delay=0)
    failed = ok(True).run_now(remove_delay=0)
    later = ok().run_now(remove_delay="1 hour")
    drain(app)
    app.purge(expired=True)
    assert _exists(app, done, failed, later) == [False, True, True]


def test_workers_purge_expired_jobs_minutes_after_their_time_not_on_the_hour(
    app: Conveyor, ok
) -> None:
    from datetime import UTC, datetime

    from conveyor.testing import FakeClock, run_until_idle

    clock = FakeClock(app, start=datetime(2030, 1, 1, 10, 7, tzinfo=UTC))
    removed = ok().run_now(remove_delay="10 minutes")
    failed = ok(True).run_now(remove_delay="10 minutes")  # remove_delay: completed only
    kept = ok().run_now(retention="20 minutes")
    run_until_idle(app)
    clock.advance(11, "minutes")  # 10:18: no hourly cleanup run is due yet
    run_until_idle(app)
    assert _exists(app, removed, failed, kept) == [False, True, True]
    clock.advance(10, "minutes")
    run_until_idle(app)
    assert _exists(app, failed, kept) == [True, False]


def test_purge_deletes_finished_jobs_on_demand(app: Conveyor, ok) -> None:
    done = ok().run_now()
    failed = ok(True).run_now()
    cancelled = ok().run_in(1, "hour")
    app.cancel(cancelled.id)
    drain(app)
    pending = ok().run_now()
    running = ok().run_now()
    app.store.claim("w", None, 2, 30)
    assert app.purge(state="failed") == 1
    assert _exists(app, failed) == [False]
    assert app.purge() == 2
    assert _exists(app, done, cancelled, pending, running) == [False, False, True, True]
    assert app.purge(state="queued") == 0


def test_purge_by_data_deletes_only_the_matching_finished_jobs(app: Conveyor) -> None:
    @app.job
    def tagged(payload: dict[str, Any]) -> None:
        pass

    red, blue = tagged({"tag": "red"}).run_now(), tagged({"tag": "blue"}).run_now()
    drain(app)
    assert app.purge(data={"tag": "red"}) == 1
    assert _exists(app, red, blue) == [False, True]


def test_purge_by_job_removes_its_logs(app: Conveyor) -> None:
    @app.job
    def noisy(meta: Any) -> None:
        meta.log.info("hello")

    @app.job
    def quiet() -> None: ...

    n, q = noisy().run_now(), quiet().run_now()
    drain(app)
    assert app.store.logs(n.id)
    assert app.purge(job="noisy") == 1
    assert app.store.logs(n.id) == []
    assert _exists(app, n, q) == [False, True]


@pytest.mark.parametrize("bad", [-1, "soon", float("inf")])
def test_bad_retention_is_refused(app: Conveyor, ok, bad: object) -> None:
    with pytest.raises(ValueError, match="invalid retention"):
        ok().run_now(retention=bad)
