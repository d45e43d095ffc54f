"""kill -9 a worker at each point of a durable step, with real processes, on SQLite and
PostgreSQL: the run finishes on another worker, every completed step having run exactly
once (the step in flight when the worker died runs again: at-least-once)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

import pytest

from conveyor import Conveyor, JobRecord
from tests import support
from tests.support import ROOT, store_url

pytestmark = pytest.mark.slow
# Frequent polls and upkeep: a killed worker's run is rescued and claimed soon after its lease.
WORKER = ("from tests.durable.crash_app import app; "
          "app.run_worker(concurrency=2, maintenance_interval=0.1, poll_interval=0.1)")
H = TypeVar("H", bound="Crash")


def harness_fixture(make: Callable[[str, Path], H], db_file: str, name: str) -> Any:
    """The fixture ``name``: the harness ``make(url, folder)`` on SQLite (``db_file``) and
    on PostgreSQL, its workers killed and its app closed afterwards."""

    @pytest.fixture(name=name, params=["sqlite", "postgres"])
    def fixture(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[H]:
        url = store_url(request.param, request, tmp_path, db_file, migrated=True)
        harness = make(url, tmp_path)
        yield harness
        harness.close()

    return fixture


def wait_for(predicate: Callable[[], Any], timeout: float, what: str) -> Any:
    """:func:`tests.support.wait_for` polling every 20 ms, not 5: a poll (often a query)
    takes CPU the worker processes need on a busy two-core machine."""
    return support.wait_for(predicate, timeout, what, interval=0.02)


class Crash:
    """Worker processes on the app of ``worker`` (``app``: the same app in this process,
    to trigger and read runs), killed at the points a run reaches."""

    def __init__(self, url: str, folder: Path, app: Conveyor | None = None,
                 worker: str = WORKER) -> None:
        self.url, self.dir, self.worker = url, folder, worker
        self.env = {**os.environ, "CRASH_URL": url, "CRASH_DIR": str(folder)}
        self.app = app if app is not None else Conveyor(url)
        self.jobs = self.app.jobs
        if app is None:
            @self.app.job("crashy")
            async def crashy(payload: dict[str, Any], io: Any) -> None:
                """Stands for crash_app.crashy, which only the worker processes run."""

            self.job = crashy
        self.workers: list[subprocess.Popen[bytes]] = []

    def start_worker(self) -> subprocess.Popen[bytes]:
        proc = subprocess.Popen([sys.executable, "-c", self.worker], cwd=ROOT, env=self.env)
        self.workers.append(proc)
        return proc

    def nothing_running(self) -> None:
        assert self.app.count(state="running") == 0

    def block(self, point: str) -> None:
        (self.dir / f"block-{point}").touch()

    def unblock(self, point: str) -> None:
        (self.dir / f"block-{point}").unlink()

    def log(self) -> list[str]:
        path = self.dir / "log"
        return path.read_text().split() if path.exists() else []

    def kill(self, proc: subprocess.Popen[bytes]) -> None:
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=10)

    def record(self, run_id: int) -> JobRecord:
        record = self.app.get_job(run_id)
        assert record is not None
        return record

    def kill_when_waiting(self, proc: subprocess.Popen[bytes], run_id: int) -> None:
        wait_for(lambda: self.record(run_id).state == "waiting", timeout=30,
                 what=f"run {run_id} to wait")
        self.kill(proc)

    def kill_at(self, point: str, proc: subprocess.Popen[bytes]) -> None:
        """Kill ``proc`` once a run reached the blocked ``point``; unblock it for the next
        worker."""
        wait_for(lambda: f"at-{point}" in self.log(), timeout=30, what=f"a run to reach {point}")
        self.kill(proc)
        self.unblock(point)

    def finished(self, run_id: int) -> JobRecord:
        def done() -> JobRecord | None:
            record = self.app.get_job(run_id)
            return record if record is not None and record.finished else None

        record: JobRecord = wait_for(done, timeout=30, what=f"run {run_id} to finish")
        return record

    def close(self) -> None:
        for proc in self.workers:
            if proc.poll() is None:
                proc.send_signal(signal.SIGKILL)
                proc.wait(timeout=10)
        self.app.close()


crash = harness_fixture(Crash, "crash.db", "crash")


def executions(log: list[str]) -> dict[str, int]:
    return {name: log.count(name) for name in ("a", "b", "c")}


@pytest.mark.parametrize(("point", "b_runs"), [
    ("before-b", 1),
    ("after-b", 2),  # b was in flight when the worker died: it runs again (at-least-once)
], ids=["before-a-step-runs", "after-a-step-ran-before-its-result-was-stored"])
def test_kill_at_a_step_runs_each_stored_step_once(crash: Crash, point: str, b_runs: int) -> None:
    crash.block(point)
    run = crash.job({}).run_now()
    crash.kill_at(point, crash.start_worker())
    assert [s.key for s in crash.app.steps(run.id)] == ["a"]  # b's result was never stored
    crash.start_worker()
    record = crash.finished(run.id)
    assert (record.state, record.result) == ("completed", ["A", "B", "C"])
    assert executions(crash.log()) == {"a": 1, "b": b_runs, "c": 1}


def test_a_run_that_stores_steps_between_crashes_is_not_poison(crash: Crash) -> None:
    """Three workers killed under one run, each after storing a step: every attempt made
    progress, so the run is not failed as poison (three rescues in a row without
    progress) and finishes on a fourth worker."""

    @crash.app.job("long_run")
    async def long_run(payload: dict[str, Any], io: Any) -> None:
        """Stands for crash_app.long_run."""

    points = ("before-q", "before-r", "before-s")
    for point in points:
        crash.block(point)
    run = long_run({}).run_now()
    for point in points:
        crash.kill_at(point, crash.start_worker())
    crash.start_worker()
    record = crash.finished(run.id)
    assert (record.state, record.result) == ("completed", ["P", "Q", "R", "S"])
    assert [crash.log().count(name) for name in "pqrs"] == [1, 1, 1, 1]


def test_kill_during_a_wait(crash: Crash) -> None:
    run = crash.job({"nap": 1.5}).run_now()
    crash.kill_when_waiting(crash.start_worker(), run.id)
    crash.start_worker()
    record = crash.finished(run.id)
    assert (record.state, record.result) == ("completed", ["A", "B", "C"])
    assert executions(crash.log()) == {"a": 1, "b": 1, "c": 1}
    nap = next(s for s in crash.app.steps(run.id) if s.key == "nap")
    assert record.finished_at is not None and nap.wake_at is not None
    assert record.finished_at >= nap.wake_at  # it slept its full time despite the crash
