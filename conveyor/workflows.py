"""Workflows of plain jobs: ``chain`` and ``group`` on top of ``depends_on``.

``chain(a(1), b(), c())`` stores three ordinary jobs at once: ``a`` due now, ``b``
blocked on ``a``, ``c`` blocked on ``b``. The store makes each due in the transaction
that completes the one before it and hands it that job's result as its first positional
argument (a group's results as one list). ``group(...)`` members share the same
predecessors; a chain after a group waits for all of them (a chord). There is no other
engine: a failed member cancels everything after it through the dependency rules.
"""

from __future__ import annotations

import asyncio
import dataclasses
import time
from collections.abc import Generator, Iterable, Sequence
from typing import TYPE_CHECKING, Any, Union, Unpack

from conveyor.errors import ArgumentsError, ConfigurationError, JobFailed
from conveyor.jobs import JobCall, JobHandle, JobHost, poll_pauses
from conveyor.options import TriggerOptions

if TYPE_CHECKING:
    from conveyor.stores.base import NewJob

Member = Union[JobCall, "Chain", "Group"]
# A stored workflow's shape: ("job", id) | ("chain", [shapes]) | ("group", [shapes]).
Shape = tuple[str, Any]


def dependency_ids(depends_on: Any) -> list[int]:
    """The job ids a ``depends_on=`` value names (handles, workflow handles or ids)."""
    if isinstance(depends_on, (JobHandle, WorkflowHandle, int)) and not isinstance(
        depends_on, bool
    ):
        depends_on = [depends_on]
    if isinstance(depends_on, (str, bytes)) or not isinstance(depends_on, Iterable):
        raise ConfigurationError(
            f"invalid depends_on {depends_on!r}; accepted: a list of job handles or ids"
        )
    ids: list[int] = []
    for item in depends_on:
        if isinstance(item, WorkflowHandle):
            ids.extend(item.tails)
        elif isinstance(item, JobHandle):
            ids.append(item.id)
        elif isinstance(item, int) and not isinstance(item, bool) and item > 0:
            ids.append(item)
        else:
            raise ConfigurationError(
                f"invalid dependency {item!r} in depends_on; accepted: job handles or ids"
            )
    return list(dict.fromkeys(ids))


class _Builder:
    """Turns a workflow into rows for one insert (dependencies by position)."""

    def __init__(self, app: JobHost, options: dict[str, Any]) -> None:
        self.app = app
        self.options = options
        self.rows: list[NewJob] = []

    def job(self, call: JobCall, after: list[int], pipe: str | None) -> int:
        if pipe is None and call.missing is not None:
            raise ArgumentsError(call.missing)
        if pipe is not None and not call.definition.takes_input(call.args, call.kwargs):
            raise ArgumentsError(
                f"job {call.definition.id!r} receives the previous result as its first "
                f"argument inside a chain, so it cannot take these arguments; it takes "
                f"{call.definition.accepts}"
            )
        row = self.app.triggering.new_job(
            dataclasses.replace(call, missing=None), None, 0.0, dict(self.options)
        )
        if row.dedupe:
            raise ConfigurationError(
                "chain and group members cannot use replace=True or unique=True"
            )
        row.after, row.pipe = list(after) or None, pipe
        self.rows.append(row)
        return len(self.rows) - 1


class _Workflow:
    kind = ""

    def __init__(self, *members: Member | Iterable[Member]) -> None:
        only = members[0] if len(members) == 1 else None
        if isinstance(only, Iterable) and not isinstance(only, (JobCall, _Workflow, str, bytes)):
            members = tuple(only)
        found: list[Member] = []
        for m in members:
            if not isinstance(m, (JobCall, _Workflow)):
                raise ConfigurationError(
                    f"{self.kind}() takes job calls like resize('a.png') or nested chains "
                    f"and groups, not {m!r}"
                )
            found.append(m)
        if not found:
            raise ConfigurationError(f"{self.kind}() needs at least one job")
        self.members: tuple[Member, ...] = tuple(found)

    def app(self) -> JobHost:
        first = self.members[0]
        return first.definition.app if isinstance(first, JobCall) else first.app()

    def build(self, b: _Builder, after: list[int], pipe: str | None
              ) -> tuple[Shape, list[int], str]:
        raise NotImplementedError

    def run_now(self, **options: Unpack[TriggerOptions]) -> WorkflowHandle:
        """Store every member (one transaction); returns a handle on the whole."""
        app = self.app()
        builder = _Builder(app, dict(options))
        shape, _, _ = self.build(builder, [], None)
        ids = app.triggering.insert(builder.rows)
        return WorkflowHandle(app, _resolve(shape, ids))

    def __repr__(self) -> str:
        return f"{self.kind}({', '.join(map(repr, self.members))})"


def _build(member: Member, b: _Builder, after: list[int], pipe: str | None
           ) -> tuple[Shape, list[int], str]:
    if isinstance(member, JobCall):
        position = b.job(member, after, pipe)
        return ("job", position), [position], "one"
    return member.build(b, after, pipe)


class Chain(_Workflow):
    """Members run one after the other, each receiving the previous result."""

    kind = "chain"

    def build(self, b: _Builder, after: list[int], pipe: str | None
              ) -> tuple[Shape, list[int], str]:
        shapes: list[Shape] = []
        for member in self.members:
            shape, after, kind = _build(member, b, after, pipe)
            pipe = kind
            shapes.append(shape)
        return ("chain", shapes), after, pipe or "one"


class Group(_Workflow):
    """Members run in parallel (after what comes before the group in a chain)."""

    kind = "group"

    def build(self, b: _Builder, after: list[int], pipe: str | None
              ) -> tuple[Shape, list[int], str]:
        shapes: list[Shape] = []
        tails: list[int] = []
        for member in self.members:
            shape, ends, _ = _build(member, b, after, pipe)
            shapes.append(shape)
            tails.extend(ends)
        return ("group", shapes), tails, "all"


def chain(*members: Member | Iterable[Member]) -> Chain:
    """Run jobs in order, each receiving the previous result as its first positional
    argument: ``chain(fetch(url), parse(), store())``. Members may be groups or chains."""
    return Chain(*members)


def group(*members: Member | Iterable[Member]) -> Group:
    """Run jobs in parallel: ``group(resize(p) for p in paths)``; its result is the list of
    the members' results. Inside a chain, each member receives the previous result."""
    return Group(*members)


def _resolve(shape: Shape, ids: Sequence[int]) -> Shape:
    kind, body = shape
    if kind == "job":
        return ("job", ids[body])
    return (kind, [_resolve(s, ids) for s in body])


def _ids(shape: Shape) -> list[int]:
    kind, body = shape
    return [body] if kind == "job" else [i for s in body for i in _ids(s)]


# Ids read per query while waiting for results (SQLite caps statement parameters).
_READ_AT_ONCE = 900


def _results_of(shape: Shape) -> list[int]:
    """The jobs whose results make up the shape's result, in order (its tails: what a
    job depending on the shape waits for)."""
    kind, body = shape
    if kind == "job":
        return [body]
    if kind == "chain":
        return _results_of(body[-1])
    return [i for s in body for i in _results_of(s)]


def _assemble(shape: Shape, results: dict[int, Any]) -> Any:
    kind, body = shape
    if kind == "job":
        return results[body]
    if kind == "chain":
        return _assemble(body[-1], results)
    return [_assemble(s, results) for s in body]


class WorkflowHandle:
    """A stored chain or group. ``.result()`` is the chain's last result or the group's
    list of results; ``.ids`` every member's job id in order; ``.id`` the last one."""

    def __init__(self, app: JobHost, shape: Shape) -> None:
        self.app = app
        self.shape = shape
        self.ids = _ids(shape)
        self.tails = _results_of(shape)
        self.id = self.ids[-1]

    def __repr__(self) -> str:
        return f"<WorkflowHandle {self.shape[0]} of {len(self.ids)} jobs>"

    def __await__(self) -> Generator[Any, None, WorkflowHandle]:
        return self._self().__await__()

    async def _self(self) -> WorkflowHandle:
        return self

    def handles(self) -> list[JobHandle]:
        return [JobHandle(self.app, i) for i in self.ids]

    def cancel(self) -> int:
        """Cancel every member not finished yet; returns how many."""
        return sum(self.app.cancel(i) for i in self.ids)

    def result(self, timeout: float | None = None) -> Any:
        """Block until done: the last result (chain) or the list of results (group);
        raises JobFailed if a member failed or was cancelled, TimeoutError on timeout."""
        outcomes: dict[int, tuple[str, Any, Any]] = {}
        for pause in poll_pauses(timeout):
            if self._read(outcomes):
                return self._settle(outcomes)
            if pause is None:
                raise self._late(timeout, outcomes)
            time.sleep(pause)
        raise AssertionError("unreachable")

    async def wait(self, timeout: float | None = None) -> Any:
        """Async form of :meth:`result` (each read in a worker thread, no thread held
        between reads)."""
        outcomes: dict[int, tuple[str, Any, Any]] = {}
        for pause in poll_pauses(timeout):
            if await asyncio.to_thread(self._read, outcomes):
                return self._settle(outcomes)
            if pause is None:
                raise self._late(timeout, outcomes)
            await asyncio.sleep(pause)
        raise AssertionError("unreachable")

    def _read(self, outcomes: dict[int, tuple[str, Any, Any]]) -> bool:
        """Add the members finished since the last read to ``outcomes``; whether the
        outcome is known (every member finished, or one did not complete)."""
        needed = _results_of(self.shape)
        waiting = [i for i in needed if i not in outcomes]
        for start in range(0, len(waiting), _READ_AT_ONCE):
            chunk = waiting[start:start + _READ_AT_ONCE]
            found = {r.id: r for r in self.app.jobs_list(ids=chunk, limit=len(chunk))}
            for job_id in chunk:
                record = found.get(job_id)
                if record is None:
                    outcomes[job_id] = ("missing", None, {"message": "no longer stored"})
                elif record.finished:
                    outcomes[job_id] = (record.state, record.result, record.error)
        return (all(i in outcomes for i in needed)
                or any(o[0] != "completed" for o in outcomes.values()))

    def _late(self, timeout: float | None,
              outcomes: dict[int, tuple[str, Any, Any]]) -> TimeoutError:
        needed = _results_of(self.shape)
        missing = sum(i not in outcomes for i in needed)
        return TimeoutError(f"{self.shape[0]} did not finish within {timeout} s "
                            f"({missing} of {len(needed)} jobs not finished)")

    def _settle(self, outcomes: dict[int, tuple[str, Any, Any]]) -> Any:
        for job_id in _results_of(self.shape):  # the first failure in order
            outcome = outcomes.get(job_id)
            if outcome is not None and outcome[0] != "completed":
                raise JobFailed(job_id, outcome[0], outcome[2])
        return _assemble(self.shape, {i: o[1] for i, o in outcomes.items()})


__all__ = ["Chain", "Group", "WorkflowHandle", "chain", "dependency_ids", "group"]
