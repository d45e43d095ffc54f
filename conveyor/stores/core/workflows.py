"""Workflows (linked inserts, durable children, cascades): the store methods, once.
:mod:`conveyor.stores.graphlogic` plans the links; the rest happens in database
triggers. PostgreSQL also keeps a run's count of unfinished children in
``conveyor_waits`` (its dialect adds the statements ``start_count``, ``lock_count``,
``set_count`` and ``link_counts``, which SQLite, one writer at a time, does without)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from conveyor.stores.base import JobFilter, NewJob, StepRow
from conveyor.stores.base_workflows import ChildOutcome
from conveyor.stores.core.dialect import Dialect, retried
from conveyor.stores.core.durable import step_params
from conveyor.stores.core.filters import where
from conveyor.stores.core.reading import UNFINISHED
from conveyor.stores.graphlogic import dependencies, plan, read_states, relations
from conveyor.timeunits import FAR_FUTURE


class WorkflowsCore:
    d: Dialect

    _insert_jobs: Callable[[Any, Sequence[NewJob]], list[int]]  # InsertCore
    def _link(self, conn: Any, jobs: Sequence[NewJob], ids: Sequence[int]) -> None:
        """Set the workflow columns of freshly inserted ``jobs`` (same transaction)."""
        d = self.d
        links, edges = plan(jobs, ids, read_states(conn, d.graph, dependencies(jobs)))
        d.many(conn, "link", [d.params(
            id=k.id, state=k.state, blockers=k.blockers, watched=k.watched, pipe=k.pipe,
            parent_id=k.parent_id, parent_seq=k.parent_seq, child_index=k.child_index,
            error=k.error) for k in links])
        if "link_counts" in d.q:
            d.many(conn, "link_counts", [
                {"id": k.id, "blockers": k.blockers} for k in links if k.state == "blocked"])
        d.many(conn, "insert_edges", [
            {"job_id": j, "position": p, "dep_id": dep, "done": done}
            for j, p, dep, done in edges])

    def start_children(
        self, parent_id: int, token: int, seq: int, jobs: Sequence[NewJob]
    ) -> bool:
        d = self.d
        params = d.params(id=parent_id, token=token, seq=seq, blockers=len(jobs))
        with d.writing() as conn:
            if d.run(conn, "hold", params).fetchone() is None:
                return False
            # The run's counter exists (committed) before any child can finish, so a
            # finishing child always finds it: it counts down or waits for await_children.
            d.maybe(conn, "start_count", params)
            have = {r[0] for r in d.run(conn, "children_indexes", params)}
            todo = [j for j in jobs if j.child_index not in have]
            if todo:
                self._link(conn, todo, self._insert_jobs(conn, todo))
        d.inserted()
        return True

    def await_children(
        self, token: int, step: StepRow, version: str | None
    ) -> float | None:
        d = self.d
        params = step_params(d, token, step, None, version)
        params.update(id=step.job_id, far=FAR_FUTURE)
        with d.writing() as conn:
            # Lock the run's counter first (a finishing child locks it before the run's
            # row too): a child finishing now either committed before (and is counted
            # below, a later statement) or counts the run down after this commits.
            d.maybe(conn, "lock_count", params)
            if d.run(conn, "hold", params).fetchone() is None:
                return None
            d.run(conn, "save_step", params)
            row = d.run(conn, "unfinished_children", params).fetchone()
            params["left"] = params["blockers"] = int(row[0]) if row else 0
            d.maybe(conn, "set_count", params)
            row = d.run(conn, "wait_for_children", params).fetchone()
            if row is not None and not params["left"]:
                d.notify(conn)
        return float(row[0]) if row is not None else None

    def children_outcomes(self, parent_id: int, seq: int) -> list[ChildOutcome]:
        with self.d.reading() as conn:
            rows = self.d.run(conn, "children_outcomes", self.d.params(
                id=parent_id, seq=seq)).fetchall()
        return [(r[0], r[1], r[2], r[3], r[4]) for r in rows]

    def relations(
        self, ids: Sequence[int]
    ) -> tuple[dict[int, list[int]], dict[int, list[int]]]:
        with self.d.reading() as conn:
            return relations(conn, self.d.graph, list(ids))

    def dependents_of(self, ids: Sequence[int]) -> dict[int, list[int]]:
        found: dict[int, list[int]] = {}
        if ids:
            with self.d.reading() as conn:
                for dep, job_id in conn.execute(self.d.graph.dependents_of(ids), list(ids)):
                    found.setdefault(int(dep), []).append(int(job_id))
        return found

    @retried
    def cancel_each(self, ids: Sequence[int], cascade: bool) -> list[int]:
        d = self.d
        order = sorted(set(ids))  # rows locked in one order: no deadlock with another cancel
        with d.writing() as conn:
            if cascade:
                done = set(self._cancel_trees(conn, order))
            else:
                with d.batched(conn):
                    sent = []
                    for job_id in order:
                        params = d.params()
                        cond = where(d, JobFilter(ids=[job_id], states=UNFINISHED), params)
                        sent.append(conn.execute(d.q["cancel"].format(where=cond), params))
                done = {i for i, cur in zip(order, sent, strict=True) if cur.rowcount}
            if done:  # a waiting parent of a cancelled child is due now
                d.notify(conn)
        return [i for i in dict.fromkeys(ids) if i in done]

    def _cancel_trees(self, conn: Any, ids: Sequence[int]) -> list[int]:
        """Cancel each run of ``ids`` and its descendants; the ids whose run was cancelled.

        A pass finds the tree as its statement began. A run starting children meanwhile
        holds its row, which the pass waits for: those children are committed by then but
        not in the tree it found. So each tree is cancelled again until a pass finds
        nothing left (a cancelled run can start no more children); without other
        writers (SQLite), the second pass finds nothing."""
        done = changed = self._cancel_pass(conn, ids)
        while changed:
            changed = self._cancel_pass(conn, changed)
        return done

    def _cancel_pass(self, conn: Any, ids: Sequence[int]) -> list[int]:
        """One ``cancel_tree`` per id, sent together; the ids whose tree changed."""
        d = self.d
        with d.batched(conn):
            sent = [d.run(conn, "cancel_tree", d.params(id=job_id)) for job_id in ids]
        return [i for i, cur in zip(ids, sent, strict=True) if cur.rowcount]
