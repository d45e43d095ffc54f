"""The limited claim on PostgreSQL: one call of ``conveyor_flow_claim`` (migration 0014,
query ``flow_claim``).

The function runs the steps of :mod:`conveyor.stores.flowlogic` in the database: it locks
only the limit groups of the jobs it looks at (advisory transaction locks, taken in sorted
order on the first look and with ``try`` after that, so claims of unrelated jobs never wait
on each other and never deadlock), counts what those groups hold under the locks, takes
the jobs that fit and adds their starts to the rate buckets."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from conveyor.stores.flowlogic import Lookout

_FLOW, _LOOK, _SKIPPED = 19, 20, 21  # the status row's columns


def read_claim(rows: list[Any], queues: Sequence[str] | None, lookout: Lookout
               ) -> tuple[list[Any], bool]:
    """Split ``conveyor_flow_claim``'s rows into the claimed rows and its status row."""
    status = rows.pop()
    if status[_LOOK] is not None:
        lookout.record(queues, status[_LOOK] == "found", status[_SKIPPED])
    return rows, status[_FLOW] == "rules"


__all__ = ["read_claim"]
