"""SPEC §12 testing helpers, §8 sanitised text and §2/§3 Reaction-style calls, on
every store."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from conveyor import Conveyor, JobFailed, Retry
from conveyor.testing import FakeClock, enqueued, inline, run_until_idle
from tests.acceptance.support import record_of


def test_inline_runs_in_the_call_with_real_results_and_errors(app: Conveyor) -> None:
    @app.job("double")
    def double(x: int) -> int:
        return 2 * x

    @app.job("boom", retry=Retry(retries=0))
    def boom() -> None:
        raise KeyError("missing")

    with inline(app):
        handle = double(21).run_now()
        assert record_of(app, handle.id).state == "completed"
        assert handle.result(timeout=30) == 42
        later = double(1).run_in(3, "days")
        assert later.result(timeout=30) == 2
        bad = boom().run_now()
        with pytest.raises(JobFailed) as caught:
            bad.result(timeout=30)
        assert "missing" in str(caught.value)


def test_inline_still_refuses_bad_payloads(app: Conveyor) -> None:
    from conveyor import PayloadError

    @app.job("echo")
    def echo(x: Any) -> Any:
        return x

    with inline(app), pytest.raises(PayloadError):
        echo(float("nan")).run_now()
    assert app.count() == 0


def test_fake_clock_moves_delays_and_retries(app: Conveyor) -> None:
    start = datetime(2030, 3, 1, 12, tzinfo=UTC)
    clock = FakeClock(app, start=start)
    seen: list[int] = []

    @app.job("tick", retry=Retry(retries=1, wait=3600))
    def tick(meta: Any) -> int:
        seen.append(meta.attempt)
        if meta.attempt == 1:
            raise RuntimeError("again")
        return meta.attempt

    handle = tick().run_in(1, "day")
    run_until_idle(app, clock=clock)
    assert seen == []
    clock.advance(1, "day")
    run_until_idle(app, clock=clock)
    assert seen == [1]
    clock.advance(59, "minutes")
    run_until_idle(app, clock=clock)
    assert seen == [1]
    clock.advance(1, "minute")
    run_until_idle(app, clock=clock)
    assert handle.result(timeout=30) == 2


@pytest.mark.parametrize(("n", "unit"), [(-1, "second"), (1, "eon"), (float("nan"), "day")])
def test_fake_clock_refuses_bad_steps(app: Conveyor, n: float, unit: str) -> None:
    clock = FakeClock(app, start=datetime(2030, 1, 1, tzinfo=UTC))
    with pytest.raises(ValueError):
        clock.advance(n, unit)


def test_enqueued_lists_stored_jobs_by_job_and_payload_subset(app: Conveyor) -> None:
    @app.job("mail")
    def mail(payload: dict[str, Any]) -> None: ...

    @app.job("kw")
    def kw(to: str, n: int = 0) -> None: ...

    mail({"to": "a", "n": 1}).run_now()
    mail({"to": "b"}).run_in(1, "hour")
    kw(to="a").run_now()
    assert len(enqueued(app)) == 3
    assert len(enqueued(app, job="mail")) == 2
    assert len(enqueued(app, to="a")) == 2
    assert len(enqueued(app, job="mail", to="a", n=1)) == 1
    assert enqueued(app, job="mail", to="zzz") == []


def test_enqueued_takes_a_job_object_too(app: Conveyor) -> None:
    @app.job("mail")
    def mail(payload: dict[str, Any]) -> None: ...

    mail({"to": "a"}).run_now()
    assert len(enqueued(app, job=app.jobs.mail)) == 1


HOSTILE = "bad\x00text \ud800 end"


def test_error_messages_and_logs_are_sanitised_and_stored(app: Conveyor) -> None:
    @app.job("hostile", retry=Retry(retries=0))
    def hostile(meta: Any) -> None:
        meta.log.info(HOSTILE)
        meta.progress(50, message=HOSTILE)
        raise RuntimeError(HOSTILE + "x" * 200_000)

    handle = hostile().run_now()
    run_until_idle(app)
    found = record_of(app, handle.id)
    assert found.state == "failed"
    text = str(found.error)
    assert "\x00" not in text and "\ufffd" in text and len(text) < 200_000
    logs = " ".join(str(line) for line in found.logs)
    assert "\ufffd" in logs and "\x00" not in logs


@pytest.mark.parametrize("fraction", [-0.5, 1.5, 150, float("nan"), float("inf")])
def test_progress_out_of_range_never_fails_the_job_silently_wrong(
    app: Conveyor, fraction: float
) -> None:
    @app.job("prog")
    def prog(meta: Any) -> str:
        try:
            meta.progress(fraction)
        except ValueError:
            return "refused"
        return "kept"

    handle = prog().run_now()
    run_until_idle(app)
    found = record_of(app, handle.id)
    assert found.state == "completed"
    if found.result == "kept" and found.progress is not None:
        value = found.progress if isinstance(found.progress, float | int) else None
        assert value is None or 0 <= value <= 100


def test_schedule_job_data_reaches_the_job_and_cancel_matches_it(app: Conveyor) -> None:
    got: list[Any] = []

    @app.job("x")
    def x(data: dict[str, Any]) -> None:
        got.append(data)

    handle = app.schedule_job(
        type="x",
        data={"shop_id": 5, "deep": [1]},
        retry={"retries": 2, "wait": 60000, "backoff": "exponential"},
        priority="normal",
    )
    app.schedule_job(type="x", data={"shop_id": 6})
    assert record_of(app, handle.id).max_attempts == 3
    assert app.cancel_jobs(type="x", data={"shop_id": 6}) == 1
    run_until_idle(app)
    assert got == [{"shop_id": 5, "deep": [1]}]


def test_schedule_job_cancel_repeats_keeps_one_pending(app: Conveyor) -> None:
    @app.job("x")
    def x(data: dict[str, Any]) -> None: ...

    first = app.schedule_job(type="x", data={"a": 1}, cancel_repeats=True)
    second = app.schedule_job(type="x", data={"a": 2}, cancel_repeats=True)
    assert record_of(app, first.id).state == "cancelled"
    assert record_of(app, second.id).state == "queued"


def test_schedule_job_of_an_unknown_type_is_refused_or_kept(app: Conveyor) -> None:
    from conveyor import UnknownJobError

    with pytest.raises(UnknownJobError):
        app.schedule_job(type="never-defined", data={})


def test_add_worker_done_fail_and_exceptions(app: Conveyor) -> None:
    def worker(job: Any) -> None:
        if job.data.get("mode") == "ok":
            job.done("fine")
        elif job.data.get("mode") == "fail":
            job.fail("said no")
        else:
            raise RuntimeError("broke")

    app.add_worker(type="reactionType", worker=worker)
    ok = app.schedule_job(type="reactionType", data={"mode": "ok"})
    no = app.schedule_job(type="reactionType", data={"mode": "fail"})
    bad = app.schedule_job(type="reactionType", data={"mode": "raise"})
    run_until_idle(app)
    assert record_of(app, ok.id).state == "completed"
    assert "said no" in str(record_of(app, no.id).error)
    assert "broke" in str(record_of(app, bad.id).error)
    assert record_of(app, bad.id).state == "failed"


@pytest.mark.parametrize("owner", [0, None])
def test_owner_zero_and_none_are_the_system(app: Conveyor, owner: Any) -> None:
    @app.job("o")
    def o() -> None: ...

    o().run_now(owner=owner)
    o().run_now(owner="user-1")
    assert app.cancel_jobs(owner=owner) == 1
    assert app.count(owner="user-1", state="queued") == 1


def test_include_registers_jobs_and_cleanup(app: Conveyor) -> None:
    from types import SimpleNamespace

    plugin = SimpleNamespace(
        jobs={"retryRequest": lambda payload: payload["n"] + 1},
        cleanup=[{"type": "retryRequest", "purgeAfterDays": 7}],
    )
    app.include(plugin)
    handle = app.jobs["retryRequest"]({"n": 1}).run_now()
    run_until_idle(app)
    assert handle.result(timeout=30) == 2
