"""Durable runs resumed by a fresh worker process after kill -9, on SQLite and PostgreSQL:
sleeps of days wake at their time (the fresh worker's clock is a FakeClock days ahead),
events sent while no worker runs wake the run, step results come back from the store as
JSON unchanged, a step retry in flight runs again, SIGTERM past the grace period of a
sync step releases the run and ends the worker, and code changed under a run fails it
with a clear error unless the old version is kept. Completed steps never run twice and
nothing is left ``running``."""

from __future__ import annotations

import signal
import subprocess
import sys
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from tests.durable.resume_app import VALUE, build
from tests.durable.test_crash_points import Crash, harness_fixture, wait_for
from tests.support import ROOT

pytestmark = pytest.mark.slow
WORKER = "from tests.durable.resume_app import main; main()"


class Harness(Crash):
    """test_crash_points' harness on resume_app: live workers, and burst workers whose
    clock stands at a given time."""

    def __init__(self, url: str, folder: Path) -> None:
        super().__init__(url, folder, build(url, folder), WORKER)

    def start_worker(self, code: str = "v1", grace: float = 30.0) -> subprocess.Popen[bytes]:
        proc = subprocess.Popen([sys.executable, "-c", WORKER], cwd=ROOT,
                                env={**self.env, "CRASH_CODE": code, "CRASH_GRACE": str(grace)})
        self.workers.append(proc)
        return proc

    def burst_at(self, when: datetime) -> None:
        """Run a burst worker process whose clock stands at ``when``."""
        subprocess.run([sys.executable, "-c", WORKER], cwd=ROOT, check=True, timeout=60,
                       env={**self.env, "CRASH_AT": when.isoformat()})

    def wake_at(self, run_id: int, key: str) -> datetime:
        step = next(s for s in self.app.steps(run_id) if s.key == key)
        assert step.state == "waiting" and step.wake_at is not None
        return step.wake_at

    def ran(self) -> list[str]:
        """The steps executed, in order (without the markers of blocked points)."""
        return [line for line in self.log() if not line.startswith("at-")]

    def count(self, name: str) -> int:
        return self.ran().count(name)


harness = harness_fixture(Harness, "resume.db", "harness")


def test_a_sleep_of_days_resumes_on_a_fresh_worker_at_its_time_not_before(
    harness: Harness,
) -> None:
    run = harness.jobs.sleeper({"n": 3, "unit": "days"}).run_now()
    dropped = harness.jobs.sleeper({"n": 3, "unit": "days"}).run_now()
    worker = harness.start_worker()
    wait_for(lambda: harness.record(dropped.id).state == "waiting", timeout=30,
             what="the second run to wait")
    harness.kill_when_waiting(worker, run.id)
    assert harness.app.cancel(dropped.id)  # while no worker runs
    wake = harness.wake_at(run.id, "nap")
    started = harness.record(run.id).created_at
    assert abs(wake - started - timedelta(days=3)) < timedelta(minutes=1)
    harness.burst_at(wake - timedelta(minutes=1))
    assert harness.record(run.id).state == "waiting"
    assert harness.ran() == ["a", "a"]
    harness.burst_at(wake + timedelta(minutes=1))
    record = harness.record(run.id)
    assert (record.state, record.result) == ("completed", ["A", "C"])
    assert harness.ran() == ["a", "a", "c"]  # the cancelled run did not wake
    assert harness.record(dropped.id).state == "cancelled"
    assert record.finished_at is not None and record.finished_at >= wake
    harness.nothing_running()


def test_step_results_come_back_from_the_store_unchanged_after_a_crash(
    harness: Harness,
) -> None:
    harness.block("between")
    run = harness.jobs.keeper().run_now()
    harness.kill_at("between", harness.start_worker())
    stored = {s.key: s.output for s in harness.app.steps(run.id)}
    assert stored == {"value": VALUE, "nothing": None}
    harness.start_worker()
    record = harness.finished(run.id)
    assert record.state == "completed", record.error
    assert record.result == {"value": VALUE, "nothing": None, "c": "C"}
    value = record.result["value"]
    assert list(value) == list(VALUE)  # key order kept
    assert type(value["float"]) is float and type(value["big"]) is int
    assert (harness.count("value"), harness.count("c")) == (1, 1)
    harness.nothing_running()


def test_an_event_sent_while_no_worker_runs_wakes_the_waiting_run(harness: Harness) -> None:
    run = harness.jobs.listener({"order": 7}).run_now()
    harness.kill_when_waiting(harness.start_worker(), run.id)
    harness.app.send_event("order.paid", {"order": 8})  # another order: not this run's
    harness.app.send_event("order.paid", {"order": 7, "total": 2**64, "by": "Zoë"})
    harness.start_worker()
    record = harness.finished(run.id)
    assert record.state == "completed", record.error
    assert record.result == {"a": "A", "event": {"order": 7, "total": 2**64, "by": "Zoë"},
                             "c": "C"}
    assert harness.ran() == ["a", "c"]
    harness.nothing_running()


def test_a_wait_for_event_times_out_on_a_fresh_worker_at_its_time(harness: Harness) -> None:
    run = harness.jobs.listener({"order": 9, "timeout": "2 days"}).run_now()
    harness.kill_when_waiting(harness.start_worker(), run.id)
    wake = harness.wake_at(run.id, "paid")
    harness.burst_at(wake - timedelta(minutes=1))
    assert harness.record(run.id).state == "waiting"
    harness.burst_at(wake + timedelta(seconds=1))
    record = harness.record(run.id)
    assert (record.state, record.result) == ("completed", {"a": "A", "event": None, "c": "C"})
    assert harness.ran() == ["a", "c"]
    harness.nothing_running()


def test_a_step_retry_in_flight_when_its_worker_dies_runs_again(harness: Harness) -> None:
    harness.block("in-flaky")
    run = harness.jobs.retrying().run_now()
    harness.kill_at("in-flaky", harness.start_worker())
    harness.start_worker()
    record = harness.finished(run.id)
    assert (record.state, record.result) == ("completed", "ok")
    step = next(s for s in harness.app.steps(run.id) if s.key == "flaky")
    assert (step.state, step.attempts) == ("completed", 2)
    assert [h["error"]["message"] for h in step.history] == ["first attempt fails"]
    assert harness.count("flaky") == 3  # failed, killed, succeeded
    harness.nothing_running()


def test_sigterm_past_the_grace_period_of_a_sync_step_exits_and_releases_the_run(
    harness: Harness,
) -> None:
    harness.block("in-value")
    run = harness.jobs.keeper().run_now()
    first = harness.start_worker(grace=0.5)
    wait_for(lambda: "at-in-value" in harness.log(), timeout=30, what="the step to run")
    first.send_signal(signal.SIGTERM)
    assert first.wait(timeout=10) == 0  # its step's thread does not keep it alive
    record = harness.record(run.id)
    assert (record.state, record.worker_id) == ("queued", None)  # released, no lease wait
    harness.unblock("in-value")
    harness.start_worker()
    record = harness.finished(run.id)
    assert record.state == "completed" and record.result is not None
    assert record.result["value"] == VALUE
    assert (harness.count("value"), harness.count("c")) == (2, 1)
    harness.nothing_running()


def test_code_changed_under_a_run_fails_it_at_once_naming_both_steps(harness: Harness) -> None:
    harness.block("before-c")
    run = harness.jobs.evolving().run_now()
    harness.kill_at("before-c", harness.start_worker("v1"))
    harness.start_worker("changed")  # same version, step #2 is now 'x'
    record = harness.finished(run.id)
    assert record.state == "failed"  # at once, although the job has retries left
    assert record.error is not None and record.error["type"].endswith("NonDeterminismError")
    message = record.error["message"]
    assert "step #2 as task 'x'" in message and "stored step #2 is task 'b'" in message
    assert harness.ran() == ["a", "b"]  # neither x nor c ran
    harness.nothing_running()


def test_a_kept_old_version_finishes_a_run_started_on_it_after_a_redeploy(
    harness: Harness,
) -> None:
    harness.block("before-c")
    run = harness.jobs.evolving().run_now()
    harness.kill_at("before-c", harness.start_worker("v1"))
    harness.start_worker("v2+v1")
    record = harness.finished(run.id)
    assert (record.state, record.result, record.version) == (
        "completed", ["A", "B", "C"], "1.0.0")
    assert harness.ran() == ["a", "b", "c"]
    harness.nothing_running()
