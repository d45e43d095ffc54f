"""SPEC §2 ``meta`` and §4 explicit rescheduling at their edges, on every store: a
``RetryIn`` with a negative or non-finite delay fails the attempt with a clear stored
error, an unbounded exponential backoff never breaks the worker, and ``meta`` carries
the documented fields."""

from __future__ import annotations

from typing import Any

import pytest

from conveyor import Conveyor, Retry, RetryIn
from conveyor.testing import run_until_idle
from tests.acceptance.support import record_of


@pytest.mark.parametrize("delay", ["-5", "nan", "inf"])
def test_a_bad_retry_in_fails_the_attempt_with_a_clear_error(app: Conveyor, delay: str) -> None:
    @app.job("again")
    def again(d: str) -> None:
        raise RetryIn(float(d))

    handle = again(delay).run_now()
    run_until_idle(app)
    found = record_of(app, handle.id)
    assert found.state == "failed" and found.attempts == 1
    assert "accepted" in str(found.error)


def test_a_huge_retry_in_is_either_refused_or_scheduled_far_away(app: Conveyor) -> None:
    @app.job("far")
    def far() -> None:
        raise RetryIn(1e20)

    handle = far().run_now()
    run_until_idle(app)
    found = record_of(app, handle.id)
    assert found.state in ("failed", "scheduled")
    if found.state == "scheduled":
        assert found.run_at is not None and found.run_at.year > 2100


def test_an_uncapped_exponential_backoff_keeps_working(capp: Conveyor, clock: Any) -> None:
    @capp.job("forever", retry=Retry(retries=80, wait=1, backoff="exponential"))
    def forever() -> None:
        raise RuntimeError("x")

    handle = forever().run_now()
    for _ in range(40):
        run_until_idle(capp)
        found = record_of(capp, handle.id)
        assert found.state == "scheduled" and found.run_at is not None
        clock.advance(seconds=(found.run_at - clock.now()).total_seconds())
    assert record_of(capp, handle.id).attempts == 40


def test_meta_carries_the_record_attempt_and_progress(app: Conveyor) -> None:
    @app.job("m", version="2.0.0")
    def m(x: int, meta: Any) -> dict[str, Any]:
        meta.progress(0.25, message="quarter")
        meta.log.info("line %s", x)
        return {"id": meta.job.id, "job": meta.job.job, "attempt": meta.attempt}

    handle = m(5).run_now()
    run_until_idle(app)
    found = record_of(app, handle.id)
    assert found.result == {"id": handle.id, "job": "m", "attempt": 1}
    assert found.version == "2.0.0"
    assert any("line 5" in str(entry) for entry in found.logs)


@pytest.mark.parametrize(("given", "stored"), [(0.5, 0.5), (50, 0.5), (0, 0.0), (100, 1.0)])
def test_progress_takes_a_fraction_or_a_percent(app: Conveyor, given: float, stored: float) -> None:
    from conveyor import Fail

    @app.job("prog")
    def prog(meta: Any) -> None:
        meta.progress(given)
        raise Fail("keep the progress as it was")

    handle = prog().run_now()
    run_until_idle(app)
    assert record_of(app, handle.id).progress == pytest.approx(stored)
