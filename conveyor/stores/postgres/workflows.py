"""PostgreSQL store methods for workflows: linked inserts, durable children, cascades."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from conveyor.stores.base import NewJob, StepRow
from conveyor.stores.base_workflows import ChildOutcome
from conveyor.stores.eventlogic import step_values
from conveyor.stores.graphlogic import (
    GraphSQL,
    dependencies,
    finished_sql,
    plan,
    read_states,
    relations,
)
from conveyor.stores.matching import FAR_FUTURE
from conveyor.stores.postgres.durable import SAVE_STEP
from conveyor.stores.postgres.filters import NOW, STATE_SQL
from conveyor.stores.postgres.queries import Q

if TYPE_CHECKING:
    import psycopg

    from conveyor.stores.postgres.connection import Database

_SQL = GraphSQL("%s")
_LINK = f"""
UPDATE conveyor_jobs AS j SET state = l.state, blockers = l.blockers, watched = l.watched,
    pipe = l.pipe, parent_id = l.parent_id, parent_seq = l.parent_seq,
    child_index = l.child_index, error = l.error,
    finished_at = CASE WHEN l.state = 'cancelled' THEN t.now END,
    purge_at = CASE WHEN l.state = 'cancelled' THEN t.now + j.retention END
FROM unnest(%(ids)s::bigint[], %(states)s::text[], %(blockers)s::int[], %(watched)s::bool[],
    %(pipes)s::text[], %(parents)s::bigint[], %(seqs)s::int[], %(indexes)s::int[],
    %(errors)s::text[]) AS l(id, state, blockers, watched, pipe, parent_id, parent_seq,
    child_index, error),
    (SELECT {NOW} AS now) AS t
WHERE j.id = l.id
""".encode()
_EDGES = b"""
INSERT INTO conveyor_deps (job_id, position, dep_id, done)
SELECT * FROM unnest(%(jobs)s::bigint[], %(positions)s::int[], %(deps)s::bigint[],
    %(done)s::bool[])
"""
_COUNTS = b"""
INSERT INTO conveyor_waits (job_id, blockers)
SELECT * FROM unnest(%(ids)s::bigint[], %(blockers)s::int[])
ON CONFLICT (job_id) DO UPDATE SET blockers = excluded.blockers
"""
_START_COUNT = (
    "INSERT INTO conveyor_waits (job_id, blockers) VALUES (%s, %s) "
    "ON CONFLICT (job_id) DO UPDATE SET blockers = excluded.blockers"
)
_LOCK_COUNT = (
    "INSERT INTO conveyor_waits (job_id, blockers) VALUES (%s, 0) "
    "ON CONFLICT (job_id) DO UPDATE SET blockers = conveyor_waits.blockers"
)
_HOLD = (
    "SELECT id FROM conveyor_jobs WHERE id = %s AND lease_token = %s AND state = 'running' "
    "FOR UPDATE"
)
_SUSPEND = f"""
UPDATE conveyor_jobs SET state = 'waiting', blockers = %(left)s,
    run_at = CASE WHEN %(left)s > 0 THEN %(far)s ELSE {NOW} END,
    attempts = attempts - 1, rescues = 0, version = coalesce(%(version)s, version),
    lease_token = NULL, lease_expires_at = NULL, worker_id = NULL
WHERE id = %(id)s AND lease_token = %(token)s RETURNING run_at
""".encode()
_CANCEL_TREE = f"""
WITH RECURSIVE tree(id) AS (
    SELECT %(id)s::bigint UNION ALL
    SELECT j.id FROM conveyor_jobs j JOIN tree ON j.parent_id = tree.id)
UPDATE conveyor_jobs AS j SET state = 'cancelled', finished_at = t.now, dedupe_key = NULL,
    purge_at = t.now + j.retention, lease_token = NULL, lease_expires_at = NULL,
    worker_id = NULL
FROM (SELECT {NOW} AS now) AS t
WHERE j.id IN (SELECT id FROM tree) AND j.state NOT IN {finished_sql()}
""".encode()


class WorkflowsMixin:
    """Workflows for :class:`PostgresStore`."""

    db: Database

    def _insert_rows(self, conn: psycopg.Connection[Any], jobs: Sequence[NewJob]) -> list[int]:
        raise NotImplementedError  # provided by PostgresStore

    def _link(
        self, conn: psycopg.Connection[Any], jobs: Sequence[NewJob], ids: Sequence[int]
    ) -> None:
        """Set the workflow columns of freshly inserted ``jobs`` (same transaction)."""
        links, edges = plan(jobs, ids, read_states(conn, _SQL, dependencies(jobs)))
        if links:
            conn.execute(_LINK, {
                "ids": [k.id for k in links], "states": [k.state for k in links],
                "blockers": [k.blockers for k in links], "watched": [k.watched for k in links],
                "pipes": [k.pipe for k in links], "parents": [k.parent_id for k in links],
                "seqs": [k.parent_seq for k in links],
                "indexes": [k.child_index for k in links], "errors": [k.error for k in links],
            })
        blocked = [k for k in links if k.state == "blocked"]
        if blocked:
            conn.execute(_COUNTS, {"ids": [k.id for k in blocked],
                                   "blockers": [k.blockers for k in blocked]})
        if edges:
            jobs_, positions, deps, done = (list(c) for c in zip(*edges, strict=True))
            conn.execute(_EDGES, {"jobs": jobs_, "positions": positions, "deps": deps,
                                  "done": done})

    def start_children(
        self, parent_id: int, token: int, seq: int, jobs: Sequence[NewJob]
    ) -> bool:
        with self.db.connection() as conn, conn.transaction():
            if conn.execute(_HOLD, (parent_id, token)).fetchone() is None:
                return False
            # The run's counter exists (committed) before any child can finish, so a
            # finishing child always finds it: it counts down or waits for await_children.
            conn.execute(_START_COUNT, (parent_id, len(jobs)))
            have = {r[0] for r in conn.execute(_SQL.existing_children, (parent_id, seq))}
            todo = [j for j in jobs if j.child_index not in have]
            if todo:
                self._link(conn, todo, self._insert_rows(conn, todo))
        return True

    def await_children(
        self, token: int, step: StepRow, version: str | None
    ) -> float | None:
        params: dict[str, Any] = {f"v{i}": v for i, v in enumerate(step_values(step))}
        params.update(job_id=step.job_id, token=token, suspend=None, version=version)
        with self.db.connection() as conn, conn.transaction():
            # Lock the run's counter first (a finishing child locks it before the run's
            # row too): a child finishing now either committed before (and is counted
            # below, a later statement) or counts the run down after this commits.
            conn.execute(_LOCK_COUNT, (step.job_id,))
            if conn.execute(_HOLD, (step.job_id, token)).fetchone() is None:
                return None
            conn.execute(SAVE_STEP, params)
            (left,) = conn.execute(
                _SQL.unfinished_children, (step.job_id, step.seq)
            ).fetchone() or (0,)
            conn.execute("UPDATE conveyor_waits SET blockers = %s WHERE job_id = %s",
                         (left, step.job_id))
            row = conn.execute(_SUSPEND, {
                "left": left, "far": FAR_FUTURE, "version": version, "id": step.job_id,
                "token": token,
            }).fetchone()
            if row is not None and not left:
                conn.execute(Q["notify"])
        return float(row[0]) if row is not None else None

    def children_outcomes(self, parent_id: int, seq: int) -> list[ChildOutcome]:
        with self.db.connection() as conn:
            rows = conn.execute(
                f"SELECT child_index, id, {STATE_SQL}, result, error FROM conveyor_jobs "
                "WHERE parent_id = %s AND parent_seq = %s ORDER BY child_index".encode(),
                (parent_id, seq),
            ).fetchall()
        return [(r[0], r[1], r[2], r[3], r[4]) for r in rows]

    def relations(
        self, ids: Sequence[int]
    ) -> tuple[dict[int, list[int]], dict[int, list[int]]]:
        with self.db.connection() as conn:
            return relations(conn, _SQL, list(ids))

    def dependents(self, job_id: int) -> list[int]:
        with self.db.connection() as conn:
            return [int(r[0]) for r in conn.execute(_SQL.dependents, (job_id,))]

    def cancel_tree(self, job_id: int) -> int:
        with self.db.connection() as conn, conn.transaction():
            changed: int = conn.execute(_CANCEL_TREE, {"id": job_id}).rowcount
            if changed:
                conn.execute(Q["notify"])
        return changed

    def _after_purge(self, conn: psycopg.Connection[Any], ids: list[int]) -> None:
        conn.execute("DELETE FROM conveyor_deps WHERE job_id = ANY(%s)", (ids,))
        conn.execute("DELETE FROM conveyor_waits WHERE job_id = ANY(%s)", (ids,))
        later = getattr(super(), "_after_purge", None)
        if later is not None:
            later(conn, ids)
