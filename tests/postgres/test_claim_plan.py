"""The claim's plan on PostgreSQL: the rows conveyor_due returns are found by primary-key
probes, never by a scan of the whole table. Its estimate of 50 rows once made the planner
prefer a hash join over a sequential scan on tables of up to ~15,000 rows: every claim
read every row (at 5,000 rows, half the server's CPU per job)."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pytest

from conveyor import Conveyor
from conveyor.stores.postgres.queries import Q
from conveyor.stores.postgres.store import COMPLETE_AND_CLAIM, _claim_params, _outcome_params
from conveyor.stores.rows import NewJob, Outcome
from tests.postgres.helpers import connect

pytestmark = pytest.mark.postgres


@pytest.fixture
def store(pg_url: str) -> Iterator[Any]:
    app = Conveyor(pg_url)
    app.store.insert([NewJob(job="noop") for _ in range(3000)])
    with connect(pg_url) as conn:
        conn.execute("VACUUM ANALYZE conveyor_jobs")  # the statistics of a small table
    yield app.store
    app.close()


def plans(store: Any, query: bytes, params: dict[str, Any]) -> list[str]:
    """The plan of ``query`` as prepared by the driver: custom, then generic."""
    found = []
    with store.db.connection() as conn, conn.transaction(force_rollback=True):
        for mode in ("force_custom_plan", "force_generic_plan"):
            conn.execute(f"SET LOCAL plan_cache_mode = {mode}")
            rows = conn.execute(b"EXPLAIN " + query, params, prepare=True).fetchall()
            found.append("\n".join(r[0] for r in rows))
    return found


def test_claim_probes_the_primary_key(store: Any) -> None:
    for plan in plans(store, Q["claim"], _claim_params("w", None, 30, 30.0)):
        assert "Seq Scan on conveyor_jobs" not in plan, plan
        assert "Index Scan using conveyor_jobs_pkey" in plan, plan


def test_complete_and_claim_probes_the_primary_key(store: Any) -> None:
    held = store.claim("w", None, 30, 30.0)
    outcomes = [Outcome(j.id, j.token, "completed", time.time(), result="null") for j in held]
    params = {**_claim_params("w", None, 30, 30.0), **_outcome_params(outcomes, True)}
    for plan in plans(store, COMPLETE_AND_CLAIM, params):
        claim = plan.split("CTE c", 1)[1]  # (the outcomes' part may scan a table this small)
        assert "Seq Scan on conveyor_jobs" not in claim, plan
        assert "Index Scan using conveyor_jobs_pkey" in claim, plan
