"""Rows conveyor did not write (every store): by hand, by other software or by an older
version. A worker fails such a run alone, saying why, and goes on; no reader fails on
it."""

from __future__ import annotations

from typing import Any

import pytest

from conveyor import Conveyor, JobFailed
from tests.conformance.helpers import drain
from tests.support import overwrite


@pytest.fixture
def echo(app: Conveyor) -> Any:
    @app.job
    def echo(payload: Any = None) -> Any:
        return payload

    return echo


@pytest.mark.parametrize(("column", "text", "why"), [
    ("args", "{not json", "the stored args of this job are not a JSON list: '{not json'"),
    ("args", '{"a": 1}', "the stored args of this job are not a JSON list"),
    ("kwargs", "[1, 2]", "the stored kwargs of this job are not a JSON object: '[1, 2]'"),
    ("kwargs", "", "the stored kwargs of this job are not a JSON object: ''"),
])
def test_stored_arguments_that_are_not_json_fail_that_run_alone_saying_why(
    app: Conveyor, echo: Any, column: str, text: str, why: str
) -> None:
    handles = [echo(n).run_now(retry=3) for n in range(5)]
    overwrite(app, "jobs", handles[2].id, **{column: text})
    drain(app)
    assert [h.result() for h in handles[:2] + handles[3:]] == [0, 1, 3, 4]
    record = app.get_job(handles[2].id)
    assert record is not None and record.state == "failed" and record.attempts == 1
    assert record.error is not None and record.error["type"] == "PayloadError"
    assert record.error["message"].startswith(why)


@pytest.mark.parametrize("policy", ["garbage", "[1]", '{"backoff": "zigzag"}',
                                    '{"wait": -5}'])
def test_a_stored_retry_policy_that_cannot_be_read_fails_the_run_for_good(
    app: Conveyor, policy: str
) -> None:
    @app.job
    def boom(n: int) -> None:
        raise RuntimeError(f"boom {n}")

    @app.job
    def fine(n: int) -> int:
        return n

    bad, retried = boom(1).run_now(retry=3), boom(2).run_now(retry=1)
    others = [fine(n).run_now() for n in range(4)]
    overwrite(app, "jobs", bad.id, retry=policy)
    drain(app)
    assert [h.result() for h in others] == [0, 1, 2, 3]
    record = app.get_job(bad.id)
    assert record is not None and record.state == "failed" and record.attempts == 1
    assert record.error is not None and record.error["type"] == "RuntimeError"
    assert record.error["message"].startswith(
        f"boom 1 (not retried: its stored retry policy {policy!r} cannot be read (")
    assert "Traceback" in record.error["traceback"]
    other = app.get_job(retried.id)
    assert other is not None and other.state == "failed" and other.attempts == 2


def test_readers_show_stored_columns_no_code_wrote(app: Conveyor, echo: Any) -> None:
    handles = [echo(n).run_now() for n in range(4)]
    drain(app)
    first, second, third, fourth = (h.id for h in handles)
    overwrite(app, "jobs", first, args="{not json", kwargs="[1]", result="{x",
              history='{"a": 1}')
    overwrite(app, "jobs", second, state="failed", error="[1]",
              history='[1, {"number": "one"}, {"number": 1, "started_at": "noon"}]')
    overwrite(app, "jobs", third, state="failed", error="not json", history='"text"')
    overwrite(app, "jobs", fourth, run_at=-1e12, created_at=1e300, started_at=-1e300,
              finished_at=float("nan"), owner="not a number", owner_int=True)
    records = {r.id: r for r in app.jobs_list()}
    assert len(records) == 4 and app.count() == 4
    one, two, three, four = (records[i] for i in (first, second, third, fourth))
    assert (one.args, one.kwargs, one.result) == ([], {}, "{x")
    assert [a.number for a in one.history] == [1]  # the attempt the row itself holds
    assert two.error == {"type": None, "message": "[1]", "traceback": None}
    assert [(a.number, a.started_at) for a in two.history] == [(1, None)]
    assert three.error is not None and three.error.message == "not json"
    assert [a.number for a in three.history] == [1]
    assert (four.run_at, four.started_at, four.finished_at) == (None, None, None)
    assert four.created_at.tzinfo is not None and four.owner == "not a number"
    assert app.get_job(first) == one
    assert handles[0].result() == "{x"
    with pytest.raises(JobFailed, match="failed: \\[1\\]"):
        handles[1].result()
    assert sum(q.counts.get("failed", 0) for q in app.queues()) == 2


def test_numbers_no_trigger_stores_are_read_as_the_nearest_and_run(
    app: Conveyor, echo: Any
) -> None:
    """SQLite holds any number or text in an integer column (written by hand): claims
    and readers take it (a text priority failed every claim holding it)."""
    if type(app.store).__name__.startswith("Postgres"):
        pytest.skip("PostgreSQL's integer column holds int32 only")
    handles = [echo(n).run_now() for n in range(5)]
    for handle, odd in zip(handles, [2**40, -(2**40), "zzz", "high"], strict=False):
        overwrite(app, "jobs", handle.id, priority=odd)
    overwrite(app, "jobs", handles[4].id, max_attempts="many", parent_id="x")
    records = {r.id: r for r in app.jobs_list()}
    assert [records[h.id].priority for h in handles] == [2**31 - 1, -(2**31), 0, 10, 0]
    assert (records[handles[4].id].max_attempts, records[handles[4].id].parent_id) == (0, None)
    drain(app, concurrency=5)
    assert [h.result() for h in handles] == [0, 1, 2, 3, 4]


def test_a_history_or_payload_that_is_not_json_stops_no_write_and_no_filter(
    app: Conveyor, echo: Any
) -> None:
    """A failed attempt, a retry, a rescue and app.retry append to the history; data
    filters read the payload: on SQLite a text that is not JSON made them fail (every
    outcome of the batch, every expired lease of the pass), read as a corrupt file."""
    import time

    from conveyor import Retry

    postgres = type(app.store).__name__.startswith("Postgres")
    odd = '"text"' if postgres else "{not json"  # jsonb holds JSON only

    @app.job
    def boom(n: int) -> None:
        raise ValueError(f"boom {n}")

    failed, retried = boom(1).run_now(), boom(2).run_now(retry=Retry(retries=1, wait=0))
    others = [echo({"shop": n}).run_now() for n in range(3)]
    for handle in (failed, retried):
        overwrite(app, "jobs", handle.id, history=odd)
    overwrite(app, "jobs", others[0].id, payload=odd)
    assert [r.id for r in app.jobs_list(data={"shop": 1})] == [others[1].id]
    assert app.cancel_jobs(data={"shop": 2}) == 1
    drain(app)
    assert [app.get_job(h.id).state for h in (failed, retried)] == ["failed"] * 2  # type: ignore[union-attr]
    assert others[1].result() == {"shop": 1}
    lost = echo(9).run_now()
    assert [j.id for j in app.store.claim("gone", None, 1, 0.2)] == [lost.id]
    overwrite(app, "jobs", lost.id, history=odd)
    time.sleep(0.3)
    assert app.store.rescue() == 1
    drain(app)
    assert lost.result() == 9
    overwrite(app, "jobs", failed.id, history=odd, error=odd)
    assert app.retry(failed.id)


@pytest.mark.parametrize("error", ["not json", "{broken", "", '"a JSON string"'])
def test_retry_of_a_run_whose_stored_error_is_not_json_keeps_it_in_the_history(
    app: Conveyor, error: str
) -> None:
    """An error column written by hand (or by an older version) as plain text: app.retry
    reopens the run on every store and keeps that text as the finished attempt's error."""

    @app.job
    def boom() -> None:
        raise ValueError("boom")

    handle = boom().run_now()
    drain(app)
    overwrite(app, "jobs", handle.id, error=error, history="[]")
    assert app.retry(handle.id)
    record = app.get_job(handle.id)
    assert record is not None and record.state == "queued"
    assert [a.number for a in record.history] == [1]
    assert record.history[0].error is not None


@pytest.mark.parametrize("column", ["args", "owner", "queue"])
def test_a_blob_written_by_hand_fails_that_run_alone(
    app: Conveyor, echo: Any, column: str
) -> None:
    """SQLite holds a BLOB in any column: a due job holding one is claimed and run (or
    failed, saying why) like the rest, and the others run (the claim reads its jobs as
    JSON, which cannot hold a BLOB)."""
    if type(app.store).__name__.startswith("Postgres"):
        pytest.skip("PostgreSQL's typed columns hold no BLOB")
    handles = [echo(n).run_now() for n in range(5)]
    blob = b"[2]" if column == "args" else b"\xff\x00x"
    overwrite(app, "jobs", handles[2].id, **{column: blob})
    drain(app)
    assert [h.result() for h in handles[:2] + handles[3:]] == [0, 1, 3, 4]
    record = app.get_job(handles[2].id)
    assert record is not None and record.state in ("completed", "failed")
