"""Workflows (SPEC §10) with real worker processes that die, on SQLite and PostgreSQL: a
chain member whose worker is killed runs again and the chain finishes; a member that
keeps killing its worker fails as poison and cancels what depends on it (a child doing
so fails its parent); a child that
fails while its parent's worker is dead fails the parent (or reaches its ``io.try_``);
a cascading cancel stops children whether their worker is dead or alive; a failed child
retried while its parent waits gives the parent its result."""

from __future__ import annotations

import signal
from pathlib import Path

import pytest

from conveyor import JobFailed, JobRecord, chain
from conveyor.stores.base import POISON_RESCUES
from tests.durable.test_crash_points import Crash, harness_fixture, wait_for
from tests.durable.workflow_crash_app import build

pytestmark = pytest.mark.slow
WORKER = "from tests.durable.workflow_crash_app import main; main()"


class Harness(Crash):
    """test_crash_points' harness on workflow_crash_app."""

    def __init__(self, url: str, folder: Path) -> None:
        super().__init__(url, folder, build(url, folder), WORKER)

    def touch(self, name: str) -> None:
        (self.dir / name).touch()

    def remove(self, name: str) -> None:
        (self.dir / name).unlink()

    def state(self, run_id: int) -> str:
        return self.record(run_id).state

    def reached(self, marker: str, times: int = 1) -> None:
        wait_for(lambda: self.log().count(marker) >= times, timeout=30,
                 what=f"{marker} x{times} in the log")

    def until_poisoned(self, run_id: int) -> None:
        """Start workers (each killed by the run) until the run fails as poison."""
        for _ in range(POISON_RESCUES + 1):
            if self.state(run_id) == "failed":
                break
            worker = self.start_worker()
            wait_for(lambda w=worker: w.poll() is not None or self.state(run_id) == "failed",  # type: ignore[misc]
                     timeout=30, what=f"the worker to die or run {run_id} to fail as poison")
        assert self.state(run_id) == "failed"

    def children(self, run_id: int) -> list[JobRecord]:
        return self.app.jobs_list(parent=run_id, newest_first=False)


harness = harness_fixture(Harness, "flows.db", "harness")


def test_a_chain_member_whose_worker_dies_runs_again_and_the_chain_finishes(
    harness: Harness,
) -> None:
    piece = harness.jobs.piece
    harness.touch("block-in-b")
    flow = chain(piece("s", name="a"), piece(name="b"), piece(name="c")).run_now()
    first = harness.start_worker()
    harness.reached("at-in-b")
    harness.kill(first)
    harness.remove("block-in-b")
    harness.start_worker()
    assert flow.result(timeout=30) == "s>a>b>c"
    assert [harness.log().count(n) for n in ("a", "b", "c")] == [1, 2, 1]
    assert [harness.state(i) for i in flow.ids] == ["completed"] * 3
    harness.nothing_running()


def test_a_chain_member_that_keeps_killing_its_worker_fails_and_cancels_the_rest(
    harness: Harness,
) -> None:
    jobs = harness.jobs
    flow = chain(jobs.piece("s", name="a"), jobs.suicide(name="b"), jobs.piece(name="c")).run_now()
    later = jobs.piece("t", name="d").run_now(depends_on=[flow])
    a, b, c = flow.ids
    harness.until_poisoned(b)
    record = harness.record(b)
    assert record.state == "failed" and record.error is not None
    assert record.error["type"] == "PoisonJob"
    for dependent in (c, later.id):
        cancelled = harness.record(dependent)
        assert cancelled.state == "cancelled" and cancelled.error is not None
        assert f"run {b}" in cancelled.error["message"]
    with pytest.raises(JobFailed, match=f"run {b}"):
        flow.result(timeout=30)
    assert harness.state(a) == "completed"
    assert harness.log().count("b") == POISON_RESCUES
    assert "c" not in harness.log() and "d" not in harness.log()
    harness.nothing_running()


def test_a_child_failing_while_its_parents_worker_is_dead_fails_the_parent(
    harness: Harness,
) -> None:
    harness.touch("block-in-x")
    harness.touch("fail-bad")
    plain = harness.jobs.parent(["x", "bad"]).run_now()
    careful = harness.jobs.careful(["x", "bad"]).run_now()
    first = harness.start_worker()
    harness.reached("at-in-x", 2)
    harness.kill(first)
    harness.remove("block-in-x")
    harness.start_worker()
    failed = harness.finished(plain.id)
    bad = harness.children(plain.id)[1]
    assert (bad.state, failed.state) == ("failed", "failed")
    assert failed.error is not None and failed.error["type"].endswith("JobFailed")
    assert f"job {bad.id} failed" in failed.error["message"]
    assert "bad is broken" in failed.error["message"]
    handled = harness.finished(careful.id)
    bad = harness.children(careful.id)[1]
    assert (handled.state, handled.result) == ("completed", {"failed": bad.id, "state": "failed"})
    assert harness.log().count("end-x") == 2  # each x child finished on the second worker
    harness.nothing_running()


def test_a_child_that_keeps_killing_its_worker_fails_as_poison_and_fails_its_parent(
    harness: Harness,
) -> None:
    run = harness.jobs.parent(["die"]).run_now()
    first = harness.start_worker()
    wait_for(lambda: harness.children(run.id), timeout=30, what="the child stored")
    assert first.wait(timeout=30) == -signal.SIGKILL  # by its child
    die = harness.children(run.id)[0]
    harness.until_poisoned(die.id)
    assert harness.record(die.id).error["type"] == "PoisonJob"  # type: ignore[index]
    harness.start_worker()  # the rescue's verdict woke the parent: this worker replays it
    record = harness.finished(run.id)
    assert record.state == "failed" and record.error is not None
    assert f"job {die.id} failed: PoisonJob" in record.error["message"]
    assert harness.log().count("die") == POISON_RESCUES
    harness.nothing_running()


def test_a_cascading_cancel_while_the_childrens_worker_is_dead_runs_nothing_again(
    harness: Harness,
) -> None:
    harness.touch("block-in-x")
    run = harness.jobs.parent(["x", "x"]).run_now()
    after = harness.jobs.piece("t", name="after").run_now(depends_on=[run])
    first = harness.start_worker()
    harness.reached("at-in-x", 2)
    harness.kill(first)
    assert harness.app.cancel(run.id, cascade=True)
    harness.remove("block-in-x")
    harness.start_worker()
    assert harness.jobs.piece("s", name="sentinel").run_now().result(timeout=30) == "s>sentinel"
    kids = harness.children(run.id)
    assert [k.state for k in kids] == ["cancelled", "cancelled"]
    assert (harness.state(run.id), harness.state(after.id)) == ("cancelled", "cancelled")
    assert harness.log().count("x") == 2 and "end-x" not in harness.log()
    assert "after" not in harness.log()
    harness.nothing_running()


def test_a_cascading_cancel_stops_children_running_on_a_live_worker(harness: Harness) -> None:
    harness.touch("block-in-x")
    run = harness.jobs.parent(["x", "x"]).run_now()
    harness.start_worker()  # two slots: both children hold one
    harness.reached("at-in-x", 2)
    assert harness.app.cancel(run.id, cascade=True)
    # The children stop at their next await once the worker notices: their slots free up.
    assert harness.jobs.piece("s", name="sentinel").run_now().result(timeout=30) == "s>sentinel"
    harness.remove("block-in-x")
    assert [k.state for k in harness.children(run.id)] == ["cancelled", "cancelled"]
    assert harness.state(run.id) == "cancelled"
    assert "end-x" not in harness.log()
    harness.nothing_running()


def test_a_failed_child_retried_while_its_parent_waits_gives_the_parent_its_result(
    harness: Harness,
) -> None:
    harness.touch("block-in-x")
    harness.touch("fail-bad")
    run = harness.jobs.parent(["bad", "x"]).run_now()
    harness.start_worker()
    harness.reached("at-in-x")
    bad = harness.children(run.id)[0]
    wait_for(lambda: harness.state(bad.id) == "failed", timeout=30, what="the bad child to fail")
    harness.remove("fail-bad")
    assert harness.app.retry(bad.id)
    wait_for(lambda: harness.state(bad.id) == "completed", timeout=30, what="the retry")
    wait_for(lambda: harness.state(run.id) == "waiting", timeout=30, what="the parent to wait")
    harness.remove("block-in-x")
    record = harness.finished(run.id)
    assert (record.state, record.result) == ("completed", ["p>bad", "p>x"])
    harness.nothing_running()
