"""``retry_jobs`` of a SQL store: finished jobs run again, workflows kept whole
(:mod:`conveyor.stores.retrylogic` decides; this reads the graph and writes it back, in
one transaction). A dependent still blocked on other jobs waits again for a completed
dependency retried (``reblock``): it receives the new result. A durable run ended by a
failed step runs that step again (``reopen_failed_step``)."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

from conveyor.stores.base import FINISHED
from conveyor.stores.core.dialect import Dialect, retried
from conveyor.stores.retrylogic import (
    PURGED,
    Member,
    Reopened,
    cascaded,
    fed_arguments,
    plan_retry,
)

_AT_ONCE = 500  # ids per statement (SQLite's oldest limit is 999 parameters)


class RetryCore:
    d: Dialect

    @retried
    def retry_jobs(self, ids: Sequence[int]) -> list[int]:
        d = self.d
        with d.writing() as conn:
            members = {m.id: m for m in self._members(conn, ids) if m.state in FINISHED}
            if not members:
                return []
            self._add_cascaded(conn, members)
            deps: dict[int, list[int]] = {}
            for job_id, dep in self._rows(conn, "SELECT job_id, dep_id FROM conveyor_deps "
                                          "WHERE job_id IN ({}) ORDER BY job_id, position",
                                          list(members)):
                deps.setdefault(int(job_id), []).append(int(dep))
            states = self._dependency_states(conn, {x for found in deps.values() for x in found})
            reopened, edges = plan_retry(ids, members, deps, states)
            if not reopened:
                return []
            taken = {int(r[0]) for r in d.run(conn, "retry_job", d.params(
                ids=d.array([r.id for r in reopened])))}  # (not one a racing retry took)
            reopened = [r for r in reopened if r.id in taken]
            edges = [e for e in edges if e[0] in taken]
            self._write_back(conn, reopened, edges, deps)
            again = d.params(ids=d.array([r.id for r in reopened]))
            d.run(conn, "reblock", again)
            d.run(conn, "reopen_failed_step", again)
            d.maybe(conn, "reblock_edges", again)
            d.notify(conn)
        return [r.id for r in reopened if not r.restored]

    def _rows(self, conn: Any, sql: str, ids: Sequence[int]) -> Iterator[Any]:
        """``sql`` (``{}``: the ids' placeholders) over ``ids``, a chunk at a time."""
        for start in range(0, len(ids), _AT_ONCE):
            chunk = list(ids[start:start + _AT_ONCE])
            yield from conn.execute(sql.format(self.d.graph.marks(len(chunk))), chunk).fetchall()

    def _members(self, conn: Any, ids: Sequence[int]) -> list[Member]:
        sql = "SELECT id, state, pipe, error FROM conveyor_jobs WHERE id IN ({})"
        return [Member(int(i), str(s), p, cascaded(e)) for i, s, p, e in self._rows(conn, sql, ids)]

    def _add_cascaded(self, conn: Any, members: dict[int, Member]) -> None:
        """Add the jobs below ``members`` cancelled because a dependency failed (down to
        the first job that was not)."""
        frontier = list(members)
        while frontier:
            below = [int(r[0]) for r in self._rows(
                conn, "SELECT DISTINCT job_id FROM conveyor_deps WHERE dep_id IN ({})",
                frontier) if int(r[0]) not in members]
            found = [m for m in self._members(conn, below) if m.state == "cancelled"
                     and m.cascaded]
            members.update((m.id, m) for m in found)
            frontier = [m.id for m in found]

    def _dependency_states(self, conn: Any, ids: set[int]) -> dict[int, str]:
        """The dependencies' states, their rows locked (a dependency finishing now counts
        the reopened jobs down after this commits); purged ones are ``PURGED``."""
        order = sorted(ids)
        for start in range(0, len(order), _AT_ONCE):
            chunk = order[start:start + _AT_ONCE]
            conn.execute(self.d.graph.watch(chunk), chunk)
        found = {int(i): str(s) for i, s in self._rows(
            conn, "SELECT id, state FROM conveyor_jobs WHERE id IN ({})", order)}
        return {i: found.get(i, PURGED) for i in order}

    def _write_back(self, conn: Any, reopened: list[Reopened],
                    edges: list[tuple[int, int, bool]], deps: dict[int, list[int]]) -> None:
        d = self.d
        fed = {r.id for r in reopened if r.feed}
        inputs = self._inputs(conn, fed, deps) if fed else {}
        rows = [{"id": r.id, "state": r.state, "blockers": r.blockers,
                 "args": inputs[r.id][0] if r.id in inputs else None,
                 "payload": inputs[r.id][1] if r.id in inputs else None,
                 "restored": r.restored}
                for r in reopened if r.state == "blocked" or r.feed or r.restored]
        d.many(conn, "reopen", rows)
        if "link_counts" in d.q:
            d.many(conn, "link_counts", [{"id": r.id, "blockers": r.blockers}
                                         for r in reopened if r.state == "blocked"])
        d.many(conn, "reopen_edges", [{"job_id": j, "dep_id": dep, "done": done}
                                      for j, dep, done in edges])

    def _inputs(self, conn: Any, fed: set[int], deps: dict[int, list[int]]
                ) -> dict[int, tuple[str, str]]:
        """The (args, payload) of the jobs fed their dependencies' results now."""
        jobs = {int(r[0]): r[1:] for r in self._rows(
            conn, f"SELECT id, args, kwargs, {self.d.json_text('payload')}, pipe "
            "FROM conveyor_jobs WHERE id IN ({})", sorted(fed))}
        wanted = sorted({dep for job_id in fed for dep in deps[job_id]})
        results = {int(i): r for i, r in self._rows(
            conn, "SELECT id, result FROM conveyor_jobs WHERE id IN ({})", wanted)}
        return {job_id: fed_arguments(args, kwargs, payload, pipe,
                                      [results.get(dep) for dep in deps[job_id]])
                for job_id, (args, kwargs, payload, pipe) in jobs.items()}
