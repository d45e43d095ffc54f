"""The limited claim (conveyor_flow_claim) against rows that change while it waits for
a limit group's lock: it peeked at them before the wait, so what it takes after is tested
again on the locked row."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator

import pytest

from conveyor import Conveyor
from conveyor.stores.base import ClaimedJob
from conveyor.stores.flowlogic import SEP
from tests.postgres.helpers import connect

pytestmark = pytest.mark.postgres


@pytest.fixture
def app(pg_url: str) -> Iterator[Conveyor]:
    application = Conveyor(pg_url)
    yield application
    application.close()


def test_a_job_rescheduled_while_the_claim_waits_for_its_group_is_not_taken(
    app: Conveyor, pg_url: str
) -> None:
    @app.job(concurrency=1)
    def capped() -> None: ...

    handle = capped().run_now()
    app.store.sync_limits(app.declared_limits())
    group = f"{app.store.schema}{SEP}flow{SEP}j{SEP}capped{SEP}"
    claimed: list[ClaimedJob] = []
    with connect(pg_url) as holder, connect(pg_url) as other:
        with holder.transaction():
            holder.execute("SELECT pg_advisory_xact_lock(hashtextextended(%s, 0))", (group,))
            claim = threading.Thread(
                target=lambda: claimed.extend(app.store.claim("w", None, 1, 30)))
            claim.start()
            deadline = time.monotonic() + 10
            while not _waiting_for_advisory_lock(other) and time.monotonic() < deadline:
                time.sleep(0.01)
            assert _waiting_for_advisory_lock(other), "the claim never waited for the group"
            # Meanwhile another worker ran it, and it failed: its retry is due in an hour.
            other.execute("UPDATE conveyor_jobs SET run_at = run_at + 3600 WHERE id = %s",
                          (handle.id,))
        claim.join(10)
    assert not claim.is_alive()
    assert claimed == []
    record = app.get_job(handle.id)
    assert record is not None and record.state == "scheduled"


def _waiting_for_advisory_lock(conn: object) -> bool:
    row = conn.execute(  # type: ignore[attr-defined]
        "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted"
    ).fetchone()
    return bool(row[0])
