"""SPEC §4 retries as a model, on every store: a job that always fails under any
``Retry(retries, wait, backoff, max_wait)`` (waits as seconds, a timedelta or text) is
retried ``retries`` times, the k-th retry due ``wait`` (fixed), ``wait*k`` (linear) or
``wait*2**(k-1)`` (exponential) after the attempt before it failed, capped by
``max_wait``; then it is ``failed`` with one history entry per attempt, numbered from 1."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from conveyor import Conveyor, Retry
from conveyor.testing import run_until_idle
from tests.conformance.helpers import ManualClock

FIXTURE_REUSED = settings(
    max_examples=8, deadline=None, suppress_health_check=[
        HealthCheck.too_slow, HealthCheck.function_scoped_fixture]
)
SECONDS = st.integers(0, 90_000) | st.floats(0, 5000, allow_nan=False).map(lambda x: round(x, 3))


def spelled(seconds: float, how: int) -> Any:
    """``seconds`` as a number, a timedelta or text."""
    if how == 0:
        return seconds
    if how == 1:
        return timedelta(seconds=seconds)
    if seconds == int(seconds):
        return f"{int(seconds)} seconds"
    return f"{round(seconds * 1000)} milliseconds"


def delay(k: int, wait: float, backoff: str, cap: float | None) -> float:
    raw = {"fixed": wait, "linear": wait * k, "exponential": wait * 2 ** (k - 1)}[backoff]
    return raw if cap is None else min(raw, cap)


@FIXTURE_REUSED
@given(
    retries=st.integers(0, 4),
    wait=SECONDS,
    backoff=st.sampled_from(["fixed", "linear", "exponential"]),
    cap=st.none() | SECONDS,
    how=st.integers(0, 2),
)
def test_each_retry_is_due_after_its_delay(
    capp: Conveyor,
    clock: ManualClock,
    retries: int,
    wait: float,
    backoff: str,
    cap: float | None,
    how: int,
) -> None:
    name = f"flaky-{len(capp.jobs)}"
    policy = Retry(
        retries=retries,
        wait=spelled(wait, how),
        backoff=backoff,
        max_wait=None if cap is None else spelled(cap, how),
    )

    @capp.job(name, retry=policy)
    def flaky(meta: Any) -> None:
        raise RuntimeError(f"attempt {meta.attempt}")

    handle = flaky().run_now()
    k = 1
    while True:
        run_until_idle(capp)
        while k <= retries and delay(k, wait, backoff, cap) == 0:
            k += 1  # a retry due at once runs in the same call
        record = capp.get_job(handle.id)
        assert record is not None and record.attempts == k
        if k > retries:
            break
        assert record.state == "scheduled" and record.run_at is not None
        expected = delay(k, wait, backoff, cap)
        assert abs((record.run_at - clock.now()).total_seconds() - expected) <= 1e-3
        clock.advance(seconds=expected)
        k += 1
    assert record.state == "failed" and record.max_attempts == retries + 1
    assert [h.number for h in record.history] == list(range(1, retries + 2))
    assert record.error is not None and f"attempt {retries + 1}" in str(record.error)
