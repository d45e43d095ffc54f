"""Load the named queries from ``queries.sql``."""

from __future__ import annotations

import operator
import re
from collections.abc import Sequence
from importlib import resources
from typing import Any

from conveyor.stores.base import NewJob

# The columns of a new job, in the order of the insert_many and copy_jobs statements.
MANY_COLUMNS = (
    "job", "args", "kwargs", "payload", "priority", "queue", "key", "owner", "max_attempts",
    "retry", "timeout", "retention", "remove_delay", "run_at", "delay", "version",
    "schedule_id", "fire_at", "rescheduled_from", "event_id", "concurrency_key",
    "trace_context",
)
many_values = operator.attrgetter(*MANY_COLUMNS)
NUL_IN_PAYLOAD = "the payload contains the character \\u0000, which PostgreSQL cannot store"


def load() -> dict[str, bytes]:
    """{name: SQL} for every ``-- name: <name>`` block in queries.sql and flow.sql."""
    folder = resources.files("conveyor.stores.postgres")
    text = "\n".join((folder / name).read_text("utf-8") for name in ("queries.sql", "flow.sql"))
    queries: dict[str, bytes] = {}
    for block in re.split(r"^-- name: ", text, flags=re.MULTILINE)[1:]:
        name, _, body = block.partition("\n")
        lines = [line for line in body.splitlines() if not line.lstrip().startswith("--")]
        queries[name.strip()] = "\n".join(lines).strip().rstrip(";").encode()
    # The variant for workers that serve some queues only.
    queries["next_due_queues"] = queries["next_due"].replace(
        b"/*queues*/", b"AND j.queue = ANY(%(queues)s::text[])"
    )
    return queries


def many_columns(jobs: Sequence[NewJob]) -> dict[str, list[Any]]:
    """insert_many's parameters: one list per column."""
    values = zip(*map(many_values, jobs), strict=True)
    return dict(zip(MANY_COLUMNS, map(list, values), strict=True))


Q = load()
