"""Build SQLite WHERE clauses from a JobFilter."""

from __future__ import annotations

from typing import Any

from conveyor.stores.base import JobFilter, JobRow
from conveyor.stores.matching import FILTER_COMPARISONS, like_pattern

# Public state for a row: pending splits into scheduled (due later) and queued (due).
STATE_SQL = (
    "CASE WHEN state = 'pending' THEN "
    "(CASE WHEN run_at <= :now THEN 'queued' ELSE 'scheduled' END) ELSE state END"
)

ROW_COLUMNS = (
    "id, job, args, kwargs, payload, state, priority, queue, key, owner, attempts, "
    "max_attempts, run_at, created_at, started_at, finished_at, result, error, progress, "
    "progress_message, version, rescheduled_from, schedule_id, event_id, history, retry, "
    "timeout, lease_expires_at, worker_id, concurrency_key, parent_id"
)


_TEXT_COLUMNS = ("payload", "args", "kwargs", "error", "job")


def state_condition(state: str) -> str:
    if state == "queued":
        return "(state = 'pending' AND run_at <= :now)"
    if state == "scheduled":
        return "(state = 'pending' AND run_at > :now)"
    return f"state = '{state}'"  # names are checked against STATES before this point


def where(flt: JobFilter, params: dict[str, Any]) -> str:
    """SQL conditions (joined by AND) for ``flt``; fills ``params``. Data subsets are
    matched afterwards in Python (see stores.matching.contains)."""
    parts: list[str] = []

    def in_list(column: str, values: Any, prefix: str) -> None:
        names = []
        for i, value in enumerate(values):
            params[f"{prefix}{i}"] = value
            names.append(f":{prefix}{i}")
        parts.append(f"{column} IN ({', '.join(names) or 'NULL'})")

    if flt.states:
        parts.append("(" + " OR ".join(state_condition(s) for s in flt.states) + ")")
    if flt.jobs is not None:
        in_list("job", flt.jobs, "j")
    if flt.queues is not None:
        in_list("queue", flt.queues, "q")
    if flt.ids is not None:
        in_list("id", flt.ids, "i")
    if not flt.any_owner or flt.owner is not None:
        params["owner"] = flt.owner
        parts.append("owner IS :owner")
    if flt.text:
        params["text"] = like_pattern(flt.text)
        parts.append("(" + " OR ".join(
            f"{column} LIKE :text ESCAPE '\\'" for column in _TEXT_COLUMNS
        ) + ")")
    for test, name in FILTER_COMPARISONS:
        value = getattr(flt, name)
        if value is not None:
            params[name] = value
            parts.append(f"{test} :{name}")
    return " AND ".join(parts) or "1"


def to_row(r: tuple[Any, ...], now: float) -> JobRow:
    row = JobRow(*r)
    if row.state == "pending":
        row.state = "queued" if row.run_at <= now else "scheduled"
    return row
