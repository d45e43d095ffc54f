"""SQLite store methods for workflows: linked inserts, durable children, cascades."""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from conveyor.clock import Clock, epoch
from conveyor.stores.base import NewJob, StepRow
from conveyor.stores.base_workflows import ChildOutcome
from conveyor.stores.eventlogic import step_values
from conveyor.stores.graphlogic import (
    GraphSQL,
    dependencies,
    finished_sql,
    link_values,
    plan,
    read_states,
    relations,
)
from conveyor.stores.matching import FAR_FUTURE
from conveyor.stores.sqlite.durable import SAVE_STEP, SUSPEND
from conveyor.stores.sqlite.filters import STATE_SQL

if TYPE_CHECKING:
    from conveyor.stores.sqlite.connection import Locked

_SQL = GraphSQL("?")
_LINK = (
    "UPDATE conveyor_jobs SET state = ?, blockers = ?, watched = ?, pipe = ?, parent_id = ?, "
    "parent_seq = ?, child_index = ?, error = ?, finished_at = ?, "
    "purge_at = CAST(? AS REAL) + retention WHERE id = ?"
)
_CANCEL_TREE = (
    "UPDATE conveyor_jobs SET state = 'cancelled', finished_at = :now, dedupe_key = NULL, "
    "purge_at = :now + retention, lease_token = NULL, lease_expires_at = NULL, "
    "worker_id = NULL WHERE id IN (WITH RECURSIVE tree(id) AS (SELECT :id UNION ALL "
    "SELECT j.id FROM conveyor_jobs j JOIN tree ON j.parent_id = tree.id) "
    f"SELECT id FROM tree) AND state NOT IN {finished_sql()}"
)


class WorkflowsMixin:
    """Workflows for :class:`SQLiteStore` (same connection and transactions)."""

    db: Locked
    clock: Clock | None
    _changed: threading.Event

    def _insert_rows(self, conn: sqlite3.Connection, jobs: Sequence[NewJob], now: float
                     ) -> list[int]:
        raise NotImplementedError  # provided by SQLiteStore

    def _link(
        self, conn: sqlite3.Connection, jobs: Sequence[NewJob], ids: Sequence[int], now: float
    ) -> None:
        """Set the workflow columns of freshly inserted ``jobs`` (same transaction)."""
        links, edges = plan(jobs, ids, read_states(conn, _SQL, dependencies(jobs)))
        conn.executemany(_LINK, [
            (*values[:9], values[8], values[9])
            for values in (link_values(link, now) for link in links)
        ])
        conn.executemany(_SQL.insert_edge, edges)

    def start_children(
        self, parent_id: int, token: int, seq: int, jobs: Sequence[NewJob]
    ) -> bool:
        now = epoch(self.clock)
        with self.db.transaction() as conn:
            if conn.execute(_SQL.held, (parent_id, token)).fetchone() is None:
                return False
            have = {r[0] for r in conn.execute(_SQL.existing_children, (parent_id, seq))}
            todo = [j for j in jobs if j.child_index not in have]
            if todo:
                self._link(conn, todo, self._insert_rows(conn, todo, now), now)
        self._changed.set()
        return True

    def await_children(
        self, token: int, step: StepRow, version: str | None
    ) -> float | None:
        now = epoch(self.clock)
        with self.db.transaction() as conn:
            if not conn.execute(SAVE_STEP, (*step_values(step), step.job_id, token)).rowcount:
                return None
            (left,) = conn.execute(
                _SQL.unfinished_children, (step.job_id, step.seq)
            ).fetchone()
            due = FAR_FUTURE if left else now
            conn.execute(SUSPEND, (due, version, step.job_id, token))
            conn.execute(_SQL.set_blockers, (left, step.job_id))
        return due

    def children_outcomes(self, parent_id: int, seq: int) -> list[ChildOutcome]:
        with self.db.reading() as conn:
            rows = conn.execute(
                f"SELECT child_index, id, {STATE_SQL}, result, error FROM conveyor_jobs "
                "WHERE parent_id = :parent AND parent_seq = :seq ORDER BY child_index",
                {"now": epoch(self.clock), "parent": parent_id, "seq": seq},
            ).fetchall()
        return [(r[0], r[1], r[2], r[3], r[4]) for r in rows]

    def relations(
        self, ids: Sequence[int]
    ) -> tuple[dict[int, list[int]], dict[int, list[int]]]:
        with self.db.reading() as conn:
            return relations(conn, _SQL, list(ids))

    def dependents(self, job_id: int) -> list[int]:
        with self.db.reading() as conn:
            return [int(r[0]) for r in conn.execute(_SQL.dependents, (job_id,))]

    def cancel_tree(self, job_id: int) -> int:
        params: dict[str, Any] = {"now": epoch(self.clock), "id": job_id}
        with self.db.transaction() as conn:
            changed: int = conn.execute(_CANCEL_TREE, params).rowcount
        self._changed.set()
        return changed

    def _purge_links(self, conn: sqlite3.Connection, ids: list[int]) -> None:
        conn.executemany("DELETE FROM conveyor_deps WHERE job_id = ?", [(i,) for i in ids])
