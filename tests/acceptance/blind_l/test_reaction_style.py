"""§2-3 Reaction-style API: add_worker jobs, include(), schedule_job / schedule_cron_job
with Reaction's option shapes."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from types import SimpleNamespace

from conveyor import Conveyor, Fail
from conveyor.testing import FakeClock, run_until_idle
from tests.acceptance.support import record_of

from .conftest import START


def test_add_worker_done_fail_retry_and_fail_for_good(app: Conveyor, clock: FakeClock) -> None:
    seen: list[tuple[str, object]] = []

    def worker(job):  # type: ignore[no-untyped-def]
        seen.append((job.type, job.data))
        job.log.info("working on %s", job.data["n"])
        job.progress(1, 2)
        if job.data["n"] == 1:
            job.done("all good")
        elif job.data["n"] == 2:
            job.fail("try again later")
        elif job.data["n"] == 3:
            raise Fail("never again")
        else:
            raise RuntimeError("exploded")

    app.add_worker(type="syncShop", worker=worker)
    retry = {"retries": 2, "wait": 60000, "backoff": "exponential"}
    handles = [app.schedule_job(type="syncShop", data={"n": n}, retry=retry) for n in (1, 2, 3, 4)]
    run_until_idle(app)
    ok, soft, hard, boom = (record_of(app, h.id) for h in handles)
    assert ok.state == "completed"
    assert (soft.state, soft.run_at) == ("scheduled", START + timedelta(seconds=60))
    assert "try again later" in soft.error["message"]
    assert (hard.state, hard.attempts) == ("failed", 1)
    assert "never again" in hard.error["message"]
    assert (boom.state, boom.run_at) == ("scheduled", START + timedelta(seconds=60))
    assert boom.error["message"] == "exploded" or "exploded" in boom.error["message"]
    clock.advance(60, "seconds")
    run_until_idle(app)
    assert record_of(app, handles[1].id).run_at == START + timedelta(seconds=180)
    clock.advance(120, "seconds")
    run_until_idle(app)
    soft = record_of(app, handles[1].id)
    assert (soft.state, soft.attempts, soft.max_attempts) == ("failed", 3, 3)
    assert seen.count(("syncShop", {"n": 2})) == 3
    assert any("working on 1" in entry.message for entry in ok.logs)


def test_add_worker_pause_resume_stop(app: Conveyor) -> None:
    done: list[int] = []
    handle = app.add_worker(type="w", worker=lambda job: done.append(job.data["n"]))
    handle.pause()
    first = app.schedule_job(type="w", data={"n": 1})
    run_until_idle(app)
    assert done == [] and record_of(app, first.id).state == "queued"
    handle.resume()
    run_until_idle(app)
    assert done == [1]
    handle.stop()
    again = app.add_worker(type="w", worker=lambda job: done.append(-job.data["n"]))
    app.schedule_job(type="w", data={"n": 2})
    run_until_idle(app)
    assert done == [1, -2]
    again.stop()


def test_schedule_job_data_reaches_a_decorated_job(app: Conveyor, clock: FakeClock) -> None:
    @app.job("charge")
    def charge(data, meta):  # type: ignore[no-untyped-def]
        return [data, meta.job.priority == "high"]

    handle = app.schedule_job(type="charge", data={"amount": 5, "ü": "ß"}, priority="high")
    run_until_idle(app)
    assert handle.result(timeout=30) == [{"amount": 5, "ü": "ß"}, True]


def test_cancel_repeats_keeps_only_the_newest(app: Conveyor, clock: FakeClock) -> None:
    @app.job("remind")
    def remind(data):  # type: ignore[no-untyped-def]
        return data

    old = [app.schedule_job(type="remind", data={"n": n}) for n in (1, 2)]
    newest = app.schedule_job(type="remind", data={"n": 3}, cancel_repeats=True)
    assert [record_of(app, h.id).state for h in old] == ["cancelled", "cancelled"]
    assert record_of(app, newest.id).state == "queued"


def test_schedule_cron_job_replaces_per_owner(app: Conveyor, clock: FakeClock) -> None:
    @app.job("report")
    def report(data):  # type: ignore[no-untyped-def]
        return data

    first = app.schedule_cron_job("report", "0 6 * * 1", data={"user": 5}, owner=5)
    assert record_of(app, first.id).run_at == datetime(2030, 1, 14, 6, tzinfo=UTC)
    other = app.schedule_cron_job("report", "0 7 * * *", data={"user": 6}, owner=6)
    second = app.schedule_cron_job("report", "30 6 * * *", data={"user": 5}, owner=5)
    assert record_of(app, first.id).state == "cancelled" or first.id == second.id
    pending = app.jobs_list(job="report", state="scheduled", newest_first=False)
    assert sorted((r.owner, r.run_at) for r in pending) == [
        (5, datetime(2030, 1, 8, 6, 30, tzinfo=UTC)), (6, datetime(2030, 1, 8, 7, tzinfo=UTC)),
    ]
    assert record_of(app, other.id).state == "scheduled"


def test_include_registers_jobs_and_cleanup(app: Conveyor, clock: FakeClock) -> None:
    plugin = SimpleNamespace(
        jobs={"saveImage/local": lambda data: {"saved": data["path"]}},
        cleanup=[{"type": "saveImage/local", "purgeAfterDays": 7}],
    )
    app.include(plugin)
    handle = app.jobs["saveImage/local"]({"path": "a.png"}).run_now()
    run_until_idle(app)
    assert handle.result(timeout=30) == {"saved": "a.png"}
    clock.advance(6, "days")
    run_until_idle(app)
    assert app.get_job(handle.id) is not None
    clock.advance(2, "days")
    run_until_idle(app)
    assert app.get_job(handle.id) is None
