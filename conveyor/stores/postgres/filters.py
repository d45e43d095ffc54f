"""Build PostgreSQL WHERE clauses from a JobFilter (payload subsets via ``jsonb @>``)."""

from __future__ import annotations

import json
from typing import Any

from conveyor.stores.base import JobFilter
from conveyor.stores.matching import FILTER_COMPARISONS, like_pattern

NOW = "conveyor_now()"

# Public state for a row: pending splits into scheduled (due later) and queued (due).
STATE_SQL = (
    f"CASE WHEN state = 'pending' THEN (CASE WHEN run_at <= {NOW} THEN 'queued' "
    "ELSE 'scheduled' END) ELSE state END"
)

ROW_COLUMNS = (
    f"id, job, args, kwargs, payload::text, {STATE_SQL}, priority, queue, key, owner, "
    "attempts, max_attempts, run_at, created_at, started_at, finished_at, result, error, "
    "progress, progress_message, version, rescheduled_from, schedule_id, event_id, "
    "history::text, retry, timeout, lease_expires_at, worker_id, concurrency_key, parent_id"
)


def state_condition(state: str) -> str:
    if state == "queued":
        return f"(state = 'pending' AND run_at <= {NOW})"
    if state == "scheduled":
        return f"(state = 'pending' AND run_at > {NOW})"
    return f"state = '{state}'"  # names are checked against STATES before this point


def where(flt: JobFilter, params: dict[str, Any]) -> str:
    """SQL conditions (joined by AND) for ``flt``; fills ``params`` (psycopg style)."""
    parts: list[str] = []

    def add(condition: str, name: str, value: Any) -> None:
        params[name] = value
        parts.append(condition)

    if flt.states:
        parts.append("(" + " OR ".join(state_condition(s) for s in flt.states) + ")")
    if flt.jobs is not None:
        add("job = ANY(%(jobs)s::text[])", "jobs", list(flt.jobs))
    if flt.queues is not None:
        add("queue = ANY(%(queues)s::text[])", "queues", list(flt.queues))
    if flt.ids is not None:
        add("id = ANY(%(ids)s::bigint[])", "ids", [int(i) for i in flt.ids])
    if not flt.any_owner or flt.owner is not None:
        add("owner IS NOT DISTINCT FROM %(owner)s::text", "owner", flt.owner)
    if flt.data is not None:
        add("payload @> %(data)s::jsonb", "data", json.dumps(flt.data))
    if flt.text:
        add("(payload::text ILIKE %(text)s OR args ILIKE %(text)s OR kwargs ILIKE %(text)s "
            "OR error ILIKE %(text)s OR job ILIKE %(text)s)", "text", like_pattern(flt.text))
    for test, name in FILTER_COMPARISONS:
        value = getattr(flt, name)
        if value is not None:
            add(f"{test} %({name})s", name, value)
    return " AND ".join(parts) or "true"

