"""Retrying jobs that are part of a workflow (``app.retry``): what each becomes, decided
once for both SQL stores (:mod:`conveyor.stores.core.retrying` reads and writes).

A retried job with dependencies runs again only as it would have run the first time:

* every dependency completed: due now; a chain member that never received the previous
  result (it was cancelled while blocked) is fed it now, as the store does on release;
* some dependency not finished yet (retried too, say): ``blocked`` until it completes;
* some dependency failed or was cancelled: refused (the caller says why), never run
  without its input.

Retrying a job also reopens the jobs below it that were cancelled *because* it failed
(``DependencyFailed``): they go back to ``blocked`` and run when it completes, so a
chain goes on after its failed member is retried. A job cancelled by hand stays
cancelled, and so does a dependent whose other dependencies failed.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass

PURGED = "purged"  # a dependency no longer stored: finished, its result gone
_BROKEN = ("failed", "cancelled")
_DONE = ("completed", PURGED)


@dataclass(slots=True)
class Member:
    """A finished job a retry may reopen (asked for, or cancelled below one)."""

    id: int
    state: str
    pipe: str | None  # "one" | "all": still waits for its input
    cascaded: bool  # cancelled because a dependency failed or was cancelled


@dataclass(slots=True)
class Reopened:
    """What one job becomes."""

    id: int
    state: str  # "pending" | "blocked"
    blockers: int  # dependencies not completed yet
    feed: bool  # receives its dependencies' results now
    restored: bool  # not asked for: a dependent cancelled because of one that was


def cascaded(error: str | None) -> bool:
    """Whether a stored error says the job was cancelled because of a dependency."""
    try:
        found = json.loads(error) if error else None
    except ValueError:
        return False
    return isinstance(found, dict) and found.get("type") == "DependencyFailed"


def plan_retry(
    asked: Sequence[int], members: dict[int, Member], deps: dict[int, list[int]],
    states: dict[int, str],
) -> tuple[list[Reopened], list[tuple[int, int, bool]]]:
    """The jobs reopened (asked-for ones refused are left out) and their dependency
    edges' new ``done`` flags (job, dependency, done). ``members``: the finished jobs
    asked for and the cascade-cancelled jobs below them; ``deps``: each member's
    dependencies in order; ``states``: every dependency's store state (or ``PURGED``)."""
    now = {**states, **{m.id: m.state for m in members.values()}}
    wanted = set(asked)
    reopened: list[Reopened] = []
    edges: list[tuple[int, int, bool]] = []
    for job_id in sorted(members):  # a dependency's id is below its dependents'
        member, mine = members[job_id], deps.get(job_id, [])
        if job_id not in wanted and not (member.cascaded and any(
                now[d] not in (*_DONE, *_BROKEN) for d in mine)):
            continue  # only a dependent cancelled because of a job now running again
        if any(now[d] in _BROKEN for d in mine):
            continue
        blockers = sum(now[d] not in _DONE for d in mine)
        feed = blockers == 0 and member.pipe is not None
        if feed and any(now[d] == PURGED for d in mine):
            continue  # its input is gone
        state = "blocked" if blockers else "pending"
        now[job_id] = state
        reopened.append(Reopened(job_id, state, blockers, feed, job_id not in wanted))
        edges.extend((job_id, d, now[d] in _DONE) for d in mine)
    return reopened, edges


def fed_arguments(args: str, kwargs: str, payload: str, pipe: str,
                  results: list[str | None]) -> tuple[str, str]:
    """(args, payload) of a chain member fed its dependencies' results (JSON text, in
    order), as the store's release trigger writes them."""
    texts = [r if r is not None else "null" for r in results]
    piped = f"[{', '.join(texts)}]" if pipe == "all" else (texts[0] if texts else "null")
    fed = f"[{piped}]" if args == "[]" else f"[{piped}, {args[1:]}"
    return fed, piped if args == "[]" and kwargs == "{}" else payload


__all__ = ["PURGED", "Member", "Reopened", "cascaded", "fed_arguments", "plan_retry"]
