"""Workflows (dependencies, durable children): the part both SQL stores share.

Inserting jobs that are linked (``depends_on``, ``after``, a parent run) is the plain
insert followed, in the same transaction, by :func:`link`: it locks the dependencies,
reads their states, and sets each new job ``blocked`` (counting its unfinished
dependencies), due at once, or ``cancelled`` (a dependency already failed). The graph
has no cycles by construction: a job can only depend on jobs that exist before it (or
come earlier in the same insert), and edges are only ever added with the new job.
The rest happens in database triggers (see :mod:`conveyor.stores.base_workflows`).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass

from conveyor.errors import ConfigurationError
from conveyor.stores.base import NewJob
from conveyor.stores.eventlogic import Connection


@dataclass(slots=True)
class Link:
    """What :func:`plan` decided for one inserted job."""

    id: int
    state: str  # pending | blocked | cancelled
    blockers: int
    watched: bool
    pipe: str | None
    parent_id: int | None
    parent_seq: int | None
    child_index: int | None
    error: str | None


class GraphSQL:
    """Statements written with one store's parameter mark (``?`` or ``%s``)."""

    def __init__(self, mark: str) -> None:
        self.mark = mark

    def marks(self, n: int) -> str:
        return ", ".join(self.mark for _ in range(n))

    def watch(self, ids: Sequence[int]) -> str:
        """Mark dependencies watched (their triggers fire); locks their rows."""
        marks = self.marks(len(ids))
        return f"UPDATE conveyor_jobs SET watched = {self.true} WHERE id IN ({marks})"

    def states(self, ids: Sequence[int]) -> str:
        return (f"SELECT id, state, job, error FROM conveyor_jobs WHERE id IN "
                f"({self.marks(len(ids))})")

    def edges_of(self, ids: Sequence[int]) -> str:
        return (
            f"SELECT job_id, dep_id FROM conveyor_deps WHERE job_id IN ({self.marks(len(ids))}) "
            "ORDER BY job_id, position"
        )

    def dependents_of(self, ids: Sequence[int]) -> str:
        return (
            f"SELECT dep_id, job_id FROM conveyor_deps WHERE dep_id IN ({self.marks(len(ids))}) "
            "ORDER BY dep_id, job_id"
        )

    def children_of(self, ids: Sequence[int]) -> str:
        return (
            f"SELECT parent_id, id FROM conveyor_jobs WHERE parent_id IN "
            f"({self.marks(len(ids))}) ORDER BY parent_id, parent_seq, child_index"
        )

    @property
    def true(self) -> str:
        return "1" if self.mark == "?" else "true"


Run = tuple[int, str | None, str | None]  # (id, job, state); job None: not stored


def dependency_error(via: Run, root: Run) -> str:
    """The error of a job cancelled because of its dependency ``via``, itself failed or
    cancelled because of ``root`` (the same run when it failed or was cancelled itself);
    the store triggers write the same text."""
    if via[0] == root[0]:
        what = str(via[2])
    elif root[1] is None:
        what = f"was cancelled because of run {root[0]}"
    else:
        what = f"was cancelled because run {root[0]} ({root[1]}) {root[2]}"
    return json.dumps({
        "type": "DependencyFailed",
        "message": f"run {via[0]} ({via[1]}), which this job depends on, {what}, so this "
        "job was cancelled",
        "traceback": None,
        "cause": root[0],
        "dependency": via[0],
    })


def cause_of(job_id: int, error: str | None) -> int:
    """The run a failed or cancelled job's cascade started from: the ``cause`` of a job
    cancelled because of a dependency, else the job itself."""
    try:
        found = json.loads(error) if error else None
    except ValueError:
        return job_id
    if isinstance(found, dict) and found.get("type") == "DependencyFailed":
        cause = found.get("cause")
        if isinstance(cause, int) and not isinstance(cause, bool):
            return cause
    return job_id


def dependencies(jobs: Sequence[NewJob]) -> list[int]:
    """The existing jobs the new ones depend on (sorted: rows are locked in one order)."""
    return sorted({d for j in jobs for d in j.depends_on or ()})


def read_states(
    conn: Connection, sql: GraphSQL, ids: Sequence[int]
) -> dict[int, tuple[str, str, Run]]:
    """Lock (mark watched) and read the (state, job, root run) of existing dependencies
    (the root of a failed or cancelled one: see :func:`cause_of`; else itself); unknown
    ids are refused."""
    if not ids:
        return {}
    conn.execute(sql.watch(ids), list(ids))
    rows = {int(i): (str(s), str(j), cause_of(int(i), e))
            for i, s, j, e in conn.execute(sql.states(ids), list(ids)).fetchall()}
    missing = [i for i in ids if i not in rows]
    if missing:
        raise ConfigurationError(
            f"depends_on: there is no job with id {missing[0]}; a job can only depend on "
            "jobs already stored (give their handles or ids)"
        )
    roots = sorted({c for i, (_, _, c) in rows.items() if c != i})
    found: dict[int, Run] = {}
    if roots:
        for i, s, j, _ in conn.execute(sql.states(roots), roots).fetchall():
            found[int(i)] = (int(i), str(j), str(s))
    return {i: (s, j, (i, j, s) if c == i else found.get(c, (c, None, None)))
            for i, (s, j, c) in rows.items()}


def plan(
    jobs: Sequence[NewJob], ids: Sequence[int], states: dict[int, tuple[str, str, Run]]
) -> tuple[list[Link], list[tuple[int, int, int, bool]]]:
    """Each linked job's state and the dependency edges (job, position, dep, done);
    ``states``: the existing dependencies' (state, job, root run). A job with failed or
    cancelled dependencies is cancelled naming the lowest id of them (and its root)."""
    own = set(ids)
    watched = {ids[a] for j in jobs for a in j.after or ()}
    known = {i: state for i, (state, _, _) in states.items()}
    roots = {i: root for i, (_, _, root) in states.items()}
    names = {**{i: name for i, (_, name, _) in states.items()},
             **{job_id: job.job for job, job_id in zip(jobs, ids, strict=True)}}
    links: list[Link] = []
    edges: list[tuple[int, int, int, bool]] = []
    for index, (job, job_id) in enumerate(zip(jobs, ids, strict=True)):
        if not job.linked and job_id not in watched:
            continue
        deps: list[int] = []
        for dep in job.depends_on or ():
            if dep in own:
                raise ConfigurationError(
                    f"depends_on: job {dep} is being stored in this same call; a job can "
                    "only depend on jobs already stored"
                )
            deps.append(dep)
        for position in job.after or ():
            if not 0 <= position < index:
                raise ConfigurationError("a job can only come after earlier jobs")
            deps.append(ids[position])
        blockers, broken = 0, []
        for position, dep in enumerate(dict.fromkeys(deps)):
            state = known.get(dep, "pending")
            if state in ("failed", "cancelled"):
                broken.append(dep)
            blockers += state != "completed"
            edges.append((job_id, position, dep, state == "completed"))
        error = None
        if broken:
            via = min(broken)
            roots[job_id] = roots[via]
            error = dependency_error((via, names[via], known[via]), roots[via])
        state = "cancelled" if error else "blocked" if blockers else "pending"
        known[job_id] = state
        links.append(Link(
            job_id, state, blockers, job_id in watched, job.pipe if blockers else None,
            job.parent_id, job.parent_seq, job.child_index, error,
        ))
    return links, edges


def relations(
    conn: Connection, sql: GraphSQL, ids: Sequence[int]
) -> tuple[dict[int, list[int]], dict[int, list[int]]]:
    deps: dict[int, list[int]] = {}
    children: dict[int, list[int]] = {}
    if ids:
        for job_id, dep in conn.execute(sql.edges_of(ids), list(ids)).fetchall():
            deps.setdefault(int(job_id), []).append(int(dep))
        for parent, child in conn.execute(sql.children_of(ids), list(ids)).fetchall():
            children.setdefault(int(parent), []).append(int(child))
    return deps, children
