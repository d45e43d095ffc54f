"""SPEC §2 — Reaction-style workers (add_worker): the job interface, log and progress in
Reaction's spellings, retries and Fail, the handle's pause/resume/stop, taking a type over
again, and how queries name its jobs."""

from __future__ import annotations

from typing import Any

import pytest

from conveyor import Conveyor, Fail
from conveyor.testing import run_until_idle


def test_add_worker_job_interface(app: Conveyor) -> None:
    seen: list[object] = []

    def work(job: object) -> None:
        j = job  # type: ignore[assignment]
        seen.append((j.type, j.data, j.id is not None))  # type: ignore[attr-defined]
        j.log.info("logged ✓")  # type: ignore[attr-defined]
        j.progress(0.25)  # type: ignore[attr-defined]
        if j.data.get("fail"):  # type: ignore[attr-defined]
            j.fail("asked to fail — ✗")  # type: ignore[attr-defined]
        else:
            j.done("all good")  # type: ignore[attr-defined]

    app.add_worker(type="react/type", worker=work)
    ok = app.schedule_job(type="react/type", data={"n": 1})
    bad = app.schedule_job(type="react/type", data={"fail": True})
    run_until_idle(app)
    assert app.get_job(ok.id).state == "completed"  # type: ignore[union-attr]
    failed = app.get_job(bad.id)
    assert failed is not None and failed.state == "failed"
    assert "asked to fail — ✗" in str(failed.error)
    assert ("react/type", {"n": 1}, True) in seen



def test_add_worker_job_log_and_progress_take_reactions_spellings(app: Conveyor) -> None:
    """Reaction's job API: ``job.log(message)`` is callable as well as a logger, and
    ``job.progress(completed, total)`` reports completed out of total."""

    def work(job: Any) -> None:
        job.log("called like Reaction's job.log ✓")
        job.log("a warning", level="warning")
        job.log.info("and as a logger")
        job.progress(3, 4)
        job.done()

    app.add_worker(type="reaction/log", worker=work)
    handle = app.schedule_job(type="reaction/log", data={"n": 1})
    run_until_idle(app)
    record = app.get_job(handle.id)
    assert record is not None and record.state == "completed", record.error
    assert [(line.level, line.message) for line in record.logs] == [
        ("info", "called like Reaction's job.log ✓"), ("warning", "a warning"),
        ("info", "and as a logger")]



def test_add_worker_progress_out_of_a_total_is_stored_as_a_fraction(app: Conveyor) -> None:
    def work(job: Any) -> None:
        job.progress(5, 20, message="five of twenty")
        raise Fail("stop here, keeping the progress")

    app.add_worker(type="reaction/progress", worker=work)
    handle = app.schedule_job(type="reaction/progress", data={})
    run_until_idle(app)
    record = app.get_job(handle.id)
    assert record is not None and record.state == "failed"
    assert (record.progress, record.progress_message) == (0.25, "five of twenty")



def test_add_worker_exception_retries_and_fail_does_not(app: Conveyor) -> None:
    calls: list[str] = []

    async def work(job: object) -> None:
        calls.append(job.data["mode"])  # type: ignore[attr-defined]
        if job.data["mode"] == "raise":  # type: ignore[attr-defined]
            raise RuntimeError("raised")
        raise Fail("for good")

    app.add_worker(type="asyncType", worker=work)
    retry = {"retries": 2, "wait": 0, "backoff": "fixed"}
    raised = app.schedule_job(type="asyncType", data={"mode": "raise"}, retry=retry)
    failed = app.schedule_job(type="asyncType", data={"mode": "fail"}, retry=retry)
    run_until_idle(app)
    assert app.get_job(raised.id).attempts == 3  # type: ignore[union-attr]
    assert "raised" in str(app.get_job(raised.id).error)  # type: ignore[union-attr]
    assert app.get_job(failed.id).attempts == 1  # type: ignore[union-attr]
    assert calls.count("fail") == 1



def test_add_worker_handle_pauses_resumes_and_stops(app: Conveyor) -> None:
    seen: list[int] = []
    handle = app.add_worker(type="pausable", worker=lambda job: seen.append(job.data["n"]))
    handle.pause()
    app.schedule_job(type="pausable", data={"n": 1})
    run_until_idle(app)
    assert seen == []
    handle.resume()
    run_until_idle(app)
    assert seen == [1]
    handle.stop()
    app.schedule_job(type="pausable", data={"n": 2})
    run_until_idle(app)
    assert seen == [1]



def test_add_worker_again_after_stop_takes_the_type_over(app: Conveyor) -> None:
    """A stopped handle refuses resume(); adding a worker for the type again (as that
    refusal says) registers the new function and lets jobs of the type start again."""
    seen: list[tuple[str, int]] = []
    first = app.add_worker(type="restartable", worker=lambda job: seen.append(("a", 1)))
    first.stop()
    handle = app.schedule_job(type="restartable", data={"n": 1})
    run_until_idle(app)
    assert seen == []
    with pytest.raises(ValueError, match="add_worker"):
        first.resume()
    again = app.add_worker(type="restartable",
                           worker=lambda job: seen.append(("b", job.data["n"])))
    run_until_idle(app)
    assert seen == [("b", 1)] and app.get_job(handle.id).state == "completed"  # type: ignore[union-attr]
    assert not again.paused and not again.stopped
    with pytest.raises(ValueError, match="clashes"):
        app.add_worker(type="restartable", worker=lambda job: None)  # a live one: refused



def test_an_add_worker_handle_names_its_jobs_in_queries_as_a_function_does(
    app: Conveyor,
) -> None:
    handle = app.add_worker(type="react/named", worker=lambda job: None)
    app.schedule_job(type="react/named", data={"n": 1})
    assert app.count(job=handle) == 1 == len(app.jobs_list(job=[handle]))
    assert app.count(id=handle) == 1 == app.count(type=handle)
    assert app.cancel_jobs(type=handle) == 1
