"""Counts by state come from partial indexes and match a scan of every row."""

from __future__ import annotations

from typing import Any

import pytest

from conveyor import Conveyor
from conveyor.stores.core.dialect import state_sql
from conveyor.stores.postgres.dialect import PostgresDialect
from tests.postgres.helpers import connect

pytestmark = pytest.mark.postgres

STATE_SQL = state_sql(PostgresDialect)
FULL_SCAN = f"SELECT {STATE_SQL} AS s, count(*) FROM conveyor_jobs GROUP BY s"


def scanned(url: str) -> dict[str, int]:
    with connect(url) as conn:
        return {r[0]: r[1] for r in conn.execute(FULL_SCAN.encode())}


def test_counts_by_state_match_a_full_scan_whether_or_not_vacuumed(pg_url: str) -> None:
    app = Conveyor(pg_url, lease=2)
    try:
        @app.job("work", retry=None)
        def work(payload: Any, meta: Any) -> str:
            if payload["fail"]:
                raise ValueError("no")
            return "ok"

        for i in range(30):
            work({"fail": i % 5 == 0}).run_now()
        app.run_worker(concurrency=5, burst=True)
        later = work({"fail": False}).run_in(1, "hour")
        work({"fail": False}).run_in(2, "hours").cancel()
        failed = app.jobs_list(state="failed", limit=1)[0]
        assert app.retry(failed.id)  # finished -> queued again: out of the finished index
        expected = {"completed": 24, "failed": 5, "cancelled": 1, "scheduled": 1, "queued": 1}
        assert scanned(pg_url) == expected
        assert app.store.counts_by_state() == expected

        with connect(pg_url) as conn:
            conn.execute("VACUUM (ANALYZE) conveyor_jobs")
        assert app.store.counts_by_state() == expected
        later.cancel()  # changed after the vacuum: its page is no longer all-visible
        expected = {"completed": 24, "failed": 5, "cancelled": 2, "queued": 1}
        assert app.store.counts_by_state() == expected == scanned(pg_url)
    finally:
        app.close()
