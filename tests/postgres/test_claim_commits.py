"""A claim that committed is never dropped: whatever fails after the commit (the notify
of a retry's due time, the limited claim that tops a short plain claim up), the store returns the
jobs it claimed instead of letting the call run again and claim others (those would stay
running, held by no one, until their leases expire)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import psycopg
import pytest
from psycopg import errors as pg_errors

import conveyor.stores.postgres.store as pg_store
from conveyor import Conveyor
from conveyor.stores.base import ClaimedJob, Outcome

pytestmark = pytest.mark.postgres

FAULTS: dict[str, Callable[[], Exception]] = {
    "deadlock": lambda: pg_errors.DeadlockDetected("deadlock detected (injected)"),
    "lost connection": lambda: psycopg.OperationalError("server closed the connection"),
}


@pytest.fixture
def app(pg_url: str) -> Iterator[Conveyor]:
    application = Conveyor(pg_url)
    yield application
    application.close()


def _fail_once(monkeypatch: pytest.MonkeyPatch, name: str, fault: Callable[[], Exception]
               ) -> list[int]:
    """Make ``pg_store.<name>`` raise ``fault()`` on its first call; returns the calls."""
    real = getattr(pg_store, name)
    calls: list[int] = []

    def failing(*args: Any) -> Any:
        calls.append(1)
        if len(calls) == 1:
            raise fault()
        return real(*args)

    monkeypatch.setattr(pg_store, name, failing)
    return calls


def _running(app: Conveyor) -> list[int]:
    return sorted(r.id for r in app.jobs_list(state="running", limit=100))


def _retry(app: Conveyor, job: ClaimedJob) -> Outcome:
    """A retry in an hour: a due time, so the store notifies idle workers."""
    return Outcome(job.id, job.token, "pending", app.store.now(), error='{"message": "x"}',
                   delay=3600.0)


@pytest.mark.parametrize("fault", FAULTS)
def test_outcomes_and_claim_committed_then_the_notify_failed(
    app: Conveyor, monkeypatch: pytest.MonkeyPatch, fault: str
) -> None:
    @app.job
    def one() -> None: ...

    app.enqueue_many(one() for _ in range(4))
    (first,) = app.store.claim("w", None, 1, 30)
    calls = _fail_once(monkeypatch, "_notify_if_due", FAULTS[fault])
    claimed = app.store.complete_and_claim([_retry(app, first)], "w", None, 2, 30)
    assert calls == [1]
    assert len(claimed) == 2 and sorted(j.id for j in claimed) == _running(app)
    record = app.get_job(first.id)
    assert record is not None and record.state == "scheduled"  # the retry is stored


def test_a_plain_claim_short_of_the_limit_is_not_topped_up(
    app: Conveyor, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A plain claim that took some jobs saw no flow rule in force: the limited claim
    would only cost it a second statement (and failing after the commit, leave the jobs
    claimed and unreported)."""
    @app.job
    def one() -> None: ...

    app.enqueue_many(one() for _ in range(3))
    calls = _fail_once(monkeypatch, "read_claim", FAULTS["deadlock"])
    claimed = app.store.claim("w", None, 10, 30)
    assert calls == []
    assert len(claimed) == 3 and sorted(j.id for j in claimed) == _running(app)


def test_under_flow_rules_a_failure_before_the_commit_claims_nothing_twice(
    app: Conveyor, monkeypatch: pytest.MonkeyPatch
) -> None:
    @app.job(concurrency=2)
    def capped() -> None: ...

    app.enqueue_many(capped() for _ in range(5))
    app.store.sync_limits(app.declared_limits())
    first = app.store.claim("w", None, 10, 30)  # flow rules in force: the limited claim
    assert len(first) == 2
    calls = _fail_once(monkeypatch, "_notify_if_due", FAULTS["deadlock"])
    claimed = app.store.complete_and_claim([_retry(app, first[0])], "w", None, 10, 30)
    assert len(calls) >= 2  # rolled back, then run again whole
    assert len(claimed) == 1
    assert sorted(j.id for j in [first[1], *claimed]) == _running(app)
