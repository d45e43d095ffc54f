"""kill -9 the worker holding a durable parent, with real processes, on SQLite and
PostgreSQL: between storing its children and recording the step, and while its children
run. The run finishes on another worker with each child stored exactly once."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.durable.test_crash_points import Crash, harness_fixture, wait_for
from tests.support import ROOT

pytestmark = pytest.mark.slow
WORKER = ("from tests.durable.children_crash_app import app; "
          "app.run_worker(concurrency=2, maintenance_interval=0.1, poll_interval=0.1)")


class Harness(Crash):
    """test_crash_points' harness with workers running children_crash_app."""

    def __init__(self, url: str, folder: Path) -> None:
        super().__init__(url, folder)

        @self.app.job
        def child(i: int) -> int:
            """Stands for children_crash_app.child (run only by the worker processes)."""
            return i

        @self.app.job
        async def parent(n: int, io: Any) -> None:
            """Stands for children_crash_app.parent."""

        self.parent = parent

    def start_worker(self) -> subprocess.Popen[bytes]:
        proc = subprocess.Popen([sys.executable, "-c", WORKER], cwd=ROOT, env=self.env)
        self.workers.append(proc)
        return proc


harness = harness_fixture(Harness, "children.db", "harness")


def test_kill_between_storing_children_and_recording_the_step(harness: Harness) -> None:
    (harness.dir / "block-between").touch()
    run = harness.parent(3).run_now()
    first = harness.start_worker()
    wait_for(lambda: "at-between" in harness.log(), timeout=30, what="the children stored")
    harness.kill(first)
    assert harness.app.count(parent=run.id) == 3
    assert [s.key for s in harness.app.steps(run.id)] == []  # the step was never recorded
    (harness.dir / "block-between").unlink()
    harness.start_worker()
    record = harness.finished(run.id)
    assert (record.state, record.result) == ("completed", [0, 10, 20])
    children = harness.app.jobs_list(parent=run.id, newest_first=False)
    assert len(children) == 3 and {c.state for c in children} == {"completed"}
    assert [c.args for c in children] == [[0], [1], [2]]


def test_kill_the_worker_while_the_parent_waits_on_running_children(harness: Harness) -> None:
    (harness.dir / "block-child").touch()
    run = harness.parent(2).run_now()
    first = harness.start_worker()
    wait_for(lambda: harness.log().count("at-child") >= 2, timeout=30,
             what="both children to run")
    assert harness.app.get_job(run.id).state == "waiting"  # type: ignore[union-attr]
    harness.kill(first)
    (harness.dir / "block-child").unlink()
    harness.start_worker()
    record = harness.finished(run.id)
    assert (record.state, record.result) == ("completed", [0, 10])
    assert harness.app.count(parent=run.id) == 2
    assert harness.log().count("child-0") == 2  # rescued after the lease and run again
