"""SPEC §2 reaction-style workers and cleanup policies, §3 ``schedule_cron_job`` and
trigger-time argument checks, on every store."""

from __future__ import annotations

from typing import Any

import pytest

from conveyor import ArgumentsError, Conveyor, Fail
from conveyor.testing import run_until_idle
from tests.acceptance.support import record_of


def test_add_worker_retries_per_the_jobs_retry_and_fail_is_final(app: Conveyor) -> None:
    calls: dict[str, int] = {}

    def worker(job: Any) -> None:
        calls[job.data["mode"]] = calls.get(job.data["mode"], 0) + 1
        if job.data["mode"] == "final":
            raise Fail("for good")
        if calls["flaky"] < 3:
            raise RuntimeError("again")
        job.done()

    app.add_worker(type="retryType", worker=worker)
    retry = {"retries": 3, "wait": 0, "backoff": "fixed"}
    flaky = app.schedule_job(type="retryType", data={"mode": "flaky"}, retry=retry)
    final = app.schedule_job(type="retryType", data={"mode": "final"}, retry=retry)
    run_until_idle(app)
    assert (record_of(app, flaky.id).state, calls["flaky"]) == ("completed", 3)
    assert (record_of(app, final.id).state, calls["final"]) == ("failed", 1)


def test_add_worker_handle_pauses_resumes_and_stops(app: Conveyor) -> None:
    seen: list[Any] = []
    handle = app.add_worker(type="handled", worker=lambda job: seen.append(job.data))
    first = app.schedule_job(type="handled", data={"n": 1})
    handle.pause()
    run_until_idle(app)
    assert seen == [] and record_of(app, first.id).state == "queued"
    handle.resume()
    run_until_idle(app)
    assert seen == [{"n": 1}]
    handle.stop()
    app.schedule_job(type="handled", data={"n": 2})
    run_until_idle(app)
    assert seen == [{"n": 1}]


def test_add_worker_async_function_and_job_fields(app: Conveyor) -> None:
    got: list[tuple[Any, ...]] = []

    async def worker(job: Any) -> None:
        got.append((job.type, job.data))
        job.progress(50)
        job.log.info("hello")
        job.done("finished")

    app.add_worker(type="asyncType", worker=worker)
    handle = app.schedule_job(type="asyncType", data={"k": [1, 2]})
    run_until_idle(app)
    assert got == [("asyncType", {"k": [1, 2]})]
    assert record_of(app, handle.id).state == "completed"


def test_schedule_cron_job_stores_a_scheduled_occurrence(app: Conveyor) -> None:
    @app.job("nightly")
    def nightly(data: dict[str, Any]) -> None: ...

    handle = app.schedule_cron_job("nightly", "0 3 * * *", data={"a": 1}, owner="u")
    found = record_of(app, handle.id)
    assert found.state == "scheduled" and found.run_at is not None
    assert (found.run_at.hour, found.run_at.minute) == (3, 0) and found.owner == "u"
    with pytest.raises(ValueError):
        app.schedule_cron_job("nightly", "61 * * * *", data={})


def test_cleanup_policy_applies_to_jobs_finished_before_it(capp: Conveyor, clock: Any) -> None:
    @capp.job("save-image/local")
    def save(data: dict[str, Any]) -> None: ...

    handle = save({"a": 1}).run_now()
    run_until_idle(capp)
    from types import SimpleNamespace

    capp.include(
        SimpleNamespace(jobs={}, cleanup=[{"type": "save-image/local", "purge_after_days": 7}])
    )
    clock.advance(days=6)
    run_until_idle(capp)
    capp.purge(expired=True)
    assert capp.get_job(handle.id) is not None
    clock.advance(days=2)
    run_until_idle(capp)
    capp.purge(expired=True)
    assert capp.get_job(handle.id) is None


@pytest.mark.parametrize(
    "policy",
    [
        {"type": "x", "purge_after_days": -1},
        {"type": "x", "purgeAfterDays": "soon"},
        {"purge_after_days": 7},
        {"type": "x"},
    ],
)
def test_a_bad_cleanup_policy_is_refused(app: Conveyor, policy: dict[str, Any]) -> None:
    from types import SimpleNamespace

    with pytest.raises((ValueError, TypeError)):
        app.include(SimpleNamespace(jobs={}, cleanup=[policy]))


def test_wrong_arguments_are_refused_at_trigger_time(app: Conveyor) -> None:
    @app.job("two")
    def two(a: int, b: int, *, c: int = 0) -> None: ...

    for args, kwargs in [((1,), {}), ((1, 2, 3), {}), ((1, 2), {"d": 1})]:
        with pytest.raises(ArgumentsError):
            two(*args, **kwargs).run_now()
    assert app.count() == 0


def test_a_misspelt_trigger_option_is_refused(app: Conveyor) -> None:
    @app.job("j")
    def j() -> None: ...

    with pytest.raises((TypeError, ValueError)):
        j().run_now(priorty="high")
    assert app.count() == 0
