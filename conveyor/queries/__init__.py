"""Finding and steering stored jobs: the queries service (``app.queries``) behind
:class:`conveyor.Conveyor`'s ``get_job``, ``jobs_list``, ``count``, ``cancel`` and the rest."""

from __future__ import annotations

import inspect
from collections.abc import Iterable, Sequence
from dataclasses import replace
from datetime import datetime
from typing import Any, Protocol

from conveyor.cleanup import CleanupPolicies
from conveyor.errors import ConfigurationError
from conveyor.host import Extension
from conveyor.jobs import SYSTEM_JOBS, JobDefinition, system_runs
from conveyor.observe.hooks import Hooks
from conveyor.options import coerce_owner, flag
from conveyor.queries.arguments import (
    id_bound,
    job_ids_of,
    read_count,
    read_id,
    read_run_id,
    read_text,
    read_texts,
    storable,
    stored_id,
)
from conveyor.reaction import WorkerHandle
from conveyor.records import JobRecord
from conveyor.serialization import DEPTH_CEILING, Limits, dumps
from conveyor.stores.base import (
    LOST,
    JobFilter,
    JobRow,
    MaintenanceStore,
    ReadStore,
    ScheduleStore,
    WorkflowStore,
)
from conveyor.stores.matching import check_states
from conveyor.timeunits import to_utc

# The default owner filter: jobs of every owner (owner=None matches the system's).
ANY_OWNER: Any = object()


class QueryStore(ReadStore, WorkflowStore, ScheduleStore, MaintenanceStore, Protocol):
    """The parts of a store queries use."""


# A data filter is checked as JSON a payload could be, whatever the app's own limits.
_ANY_STORED = Limits(max_depth=DEPTH_CEILING, max_payload=1 << 30)


class QueriesHost(Protocol):
    """What the queries service uses of its app."""

    timezone: str
    cleanup: CleanupPolicies
    hooks: Hooks
    extensions: list[Extension]  # told about cancels (schedules store the next occurrence)

    @property
    def store(self) -> QueryStore: ...


class Queries:
    """Finds, counts, cancels, retries and purges stored jobs (``app.queries``)."""

    def __init__(self, app: QueriesHost) -> None:
        self._app = app

    @property
    def _store(self) -> QueryStore:
        return self._app.store  # read each time: app.reopen() swaps the store

    def _filter(
        self,
        state: str | Sequence[str] | None = None,
        job: str | Sequence[str] | None = None,
        queue: str | Sequence[str] | None = None,
        owner: Any = ANY_OWNER,
        key: str | None = None,
        data: Any = None,
        text: str | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
        ids: Sequence[int] | None = None,
        schedule_id: str | None = None,
        event_id: str | None = None,
        before_id: int | None = None,
        after_id: int | None = None,
        parent: int | None = None,
    ) -> JobFilter:
        # Values no store can hold (NUL, lone surrogates, ids past 64 bits, dates past
        # year 9999) are refused, or match nothing, alike on every store.
        if data is not None:
            dumps(data, "data", _ANY_STORED)
        if ids is not None:
            ids = [i for i in map(read_id, ids) if storable(i)]
        parent_id = read_run_id("parent", parent)
        if parent_id is not None and not storable(parent_id):
            ids, parent_id = [], None  # no stored job has a parent past 64 bits
        return JobFilter(
            states=check_states(state) or None,
            jobs=read_texts("job", job_ids_of(job)),
            queues=read_texts("queue", queue),
            owner=None if owner is ANY_OWNER else coerce_owner(owner),
            any_owner=owner is ANY_OWNER,
            key=read_text("key", key),
            data=data,
            text=read_text("text", text),
            created_after=self._instant("since", since),
            created_before=self._instant("until", until),
            ids=ids,
            schedule_id=schedule_id,
            event_id=event_id,
            id_below=id_bound(read_run_id("before_id", before_id)),
            id_above=id_bound(read_run_id("after_id", after_id)),
            parent_id=parent_id,
            # conveyor's own jobs only when asked for by name, id or schedule
            hidden_jobs=SYSTEM_JOBS if job is None and ids is None and schedule_id is None
            else None,
        )

    def _instant(self, name: str, when: datetime | None) -> float | None:
        if when is None:
            return None
        try:
            return to_utc(when, self._app.timezone).timestamp()
        except (OverflowError, ValueError) as exc:
            if isinstance(exc, ConfigurationError):
                raise
            raise ConfigurationError(f"invalid {name} {when!r}: outside the supported date "
                                     "range (years 1 to 9999 in UTC)") from None

    def get_job(self, job_id: int) -> JobRecord | None:
        """The stored job with this id, or None."""
        found = stored_id(job_id)
        if found is None:
            return None
        return next(iter(self.records([found])), None)

    def get_jobs(self, job_ids: Iterable[Any]) -> list[JobRecord]:
        """The stored jobs among ``job_ids`` (ids or handles), in id order; an id naming
        no job is left out. In bulk: a few queries per thousand jobs, not a few per job."""
        return self.records([found for found in map(stored_id, job_ids) if found is not None])

    def records(self, ids: Sequence[int]) -> list[JobRecord]:
        """The full records (logs, relations) of the stored jobs among ``ids``, in id
        order: a few queries per thousand jobs, not a few per job."""
        wanted = sorted(set(ids))
        rows: list[JobRow] = []
        for start in range(0, len(wanted), _CHUNK):
            chunk = wanted[start:start + _CHUNK]
            rows += self._store.list_jobs(JobFilter(ids=chunk), len(chunk), 0, False)
        return self._completed(rows)

    def _completed(self, rows: Sequence[JobRow]) -> list[JobRecord]:
        """Records of ``rows`` with their logs and relations (a few queries per thousand)."""
        store, found = self._store, []
        for start in range(0, len(rows), _CHUNK):
            part = rows[start:start + _CHUNK]
            chunk = [r.id for r in part]
            deps, children = store.relations(chunk)
            logs, dependents = store.logs_of(chunk), store.dependents_of(chunk)
            found += [JobRecord.from_row(r, logs.get(r.id), deps.get(r.id),
                                         children.get(r.id), dependents.get(r.id, []))
                      for r in part]
        return found

    def jobs_list(
        self, *, limit: int | None = None, offset: int = 0, newest_first: bool = True,
        **filters: Any,
    ) -> list[JobRecord]:
        """Stored jobs matching ``state``, ``job``, ``queue``, ``owner``, ``key``, ``data``,
        ``text``, ``since``/``until`` (created between), ``before_id``/``after_id`` (ids
        between, for keyset paging), newest first; all of them unless ``limit`` is given."""
        limit = _MAX_ROWS if limit is None else read_count("limit", limit)
        offset, newest_first = read_count("offset", offset), flag("newest_first", newest_first)
        flt = self._filter(**_check_filters("jobs_list", filters))
        limit, offset = min(limit, _MAX_ROWS), min(offset, _MAX_ROWS)  # 64-bit in SQL
        return self._completed(self._store.list_jobs(flt, limit, offset, newest_first))

    def count(self, **filters: Any) -> int:
        """How many stored jobs match (same filters as :meth:`jobs_list`)."""
        return self._store.count(self._filter(**_check_filters("count", filters)))

    def counts(self) -> dict[str, int]:
        """Jobs by public state (every state present, zero included); conveyor's own
        jobs (retention cleanup) are left out, as :meth:`count` leaves them out."""
        from conveyor.stores.base import STATES

        found = self._store.counts_by_state()
        for row in system_runs(self._store):
            found[row.state] = found.get(row.state, 0) - 1
        return {s: max(found.get(s, 0), 0) for s in STATES}

    def cancel_jobs(
        self,
        type: str | None = None,
        data: Any = None,
        state: str | Sequence[str] | None = None,
        owner: Any = ANY_OWNER,
        key: str | None = None,
    ) -> int:
        """Cancel matching pending jobs (scheduled, queued, blocked, waiting, and running
        ones whose worker is gone: lease expired); returns how many."""
        flt = self._filter(state=state, job=type, owner=owner, key=key, data=data)
        if not flt.states:
            flt.states = ["scheduled", "queued", "blocked", "waiting", LOST]
        # A matched next occurrence of a schedule ends that schedule (as in Reaction).
        upcoming = replace(flt, states=[s for s in flt.states if s in ("scheduled", "queued")])
        ended = self._store.unstarted_schedules(upcoming) if upcoming.states else []
        cancelled = self._cancel_matching(flt)
        if ended:
            self._store.delete_schedules(ended)
        return cancelled

    def _cancel_matching(self, flt: JobFilter) -> int:
        if not self._app.hooks.wants("cancelled"):
            return self._store.cancel(flt)
        # Hooks see what was cancelled here but running jobs whose lease was live, which
        # their worker reports (a lost job's worker may be dead: reported here).
        listed = replace(flt, ids=[row.id for row in self._store.list_jobs(
            flt, 1_000_000, 0, False)])
        if not listed.ids:
            return 0
        count = self._store.cancel(listed)
        self._cancelled(listed.ids)
        return count

    def cancel(self, job_id: int, cascade: bool = False) -> bool:
        """Cancel one job that has not finished (a running one stops at its next heartbeat;
        a durable run at its next step). Jobs that depend on it are cancelled too; with
        ``cascade=True`` so are the child runs it started (at any depth)."""
        found, cascade = stored_id(job_id), flag("cascade", cascade)
        return found is not None and found in self.cancel_many([found], cascade)

    def cancel_many(self, ids: Sequence[int], cascade: bool = False) -> set[int]:
        """Cancel each of ``ids`` in turn as :meth:`cancel` does, a transaction per
        thousand (not a commit per id, nor a write lock held for all); the ids cancelled."""
        found = [i for i in map(stored_id, ids) if i is not None]
        if not found:
            return set()
        hooked = self._app.hooks.wants("cancelled")
        # the child runs a cascade cancels too, as they are before it
        below = self._unfinished_children(found) if hooked and cascade else []
        done = [i for start in range(0, len(found), _CHUNK)
                for i in self._store.cancel_each(found[start:start + _CHUNK], cascade)]
        if done:
            for extension in self._app.extensions:
                extension.cancelled(self._store)
        if hooked:  # (hooks hear the ones read back cancelled, but under a live lease)
            self._cancelled(list(dict.fromkeys(done + below)))
        return set(done)

    def _unfinished_children(self, ids: Sequence[int]) -> list[int]:
        """The unfinished child runs of ``ids``, at any depth."""
        found: list[int] = []
        level = list(ids)
        while level:
            kids = self.records([c for r in self.records(level) for c in r.children])
            found += [r.id for r in kids if not r.finished]
            level = [r.id for r in kids]
        return found

    def _cancelled(self, ids: Sequence[int]) -> None:
        self._app.hooks.cancelled(self, self.records(ids))

    def retry(self, job_id: int) -> bool:
        """Run a finished job again now; False if it is not finished or does not exist.
        A job whose dependency failed or was cancelled is refused with a
        :class:`~conveyor.ConfigurationError` naming the run to retry first."""
        found = stored_id(job_id)
        if found is None:
            return False
        if self._store.retry_jobs([found]):
            return True
        refusal = self.retry_refusal(found)
        if refusal:
            raise ConfigurationError(refusal)
        return False

    def retry_refusal(self, job_id: int) -> str | None:
        """Why a finished job cannot be retried now (a dependency failed, was cancelled
        or is no longer stored), or None."""
        record = self.get_job(job_id)
        if record is None or not record.finished or not record.depends_on:
            return None
        found = {r.id: r for r in self.records(record.depends_on)}
        for dep_id in record.depends_on:
            dep = found.get(dep_id)
            if dep is None:
                return (f"run {job_id} ({record.job}) cannot be retried: run {dep_id}, whose "
                        "result it receives, is no longer stored")
            if dep.state in ("failed", "cancelled"):
                cause = (dep.error or {}).get("cause")
                first = cause if isinstance(cause, int) else dep_id
                return (f"run {job_id} ({record.job}) cannot be retried: run {dep_id} "
                        f"({dep.job}), which it depends on, {dep.state}; retry run {first} "
                        "first (the runs cancelled because of it run again when it completes)")
        return None

    def retry_many(self, ids: Sequence[int]) -> set[int]:
        """Run the finished jobs among ``ids`` again now, in one statement; their ids."""
        found = {i for i in map(stored_id, ids) if i is not None}
        return set(self._store.retry_jobs(sorted(found))) if found else set()

    def purge(self, /, *, expired: bool = False, **filters: Any) -> int:
        """Delete finished jobs: all matching ones, or (``expired=True``) those past
        their retention. Returns how many were deleted."""
        if flag("expired", expired):
            if filters:
                raise TypeError(
                    f"purge(expired=True) deletes every job past its retention and takes no "
                    f"filters, got {', '.join(filters)}; purge(**filters) deletes the "
                    "matching finished jobs"
                )
            self._app.cleanup.sync(self._store)
            return self._store.purge(None, expired_only=True)
        return self._store.purge(self._filter(**_check_filters("purge", filters)),
                                 expired_only=False)


_MAX_ROWS = 2**62
_CHUNK = 1000  # jobs read per query by records()


def _check_filters(method: str, filters: dict[str, Any]) -> dict[str, Any]:
    """``filters`` with the job id's other spellings as ``job=`` (``type=`` as in
    :meth:`Queries.cancel_jobs`; ``id=``, or ``ids=`` when given run ids); a TypeError
    naming an unknown filter and listing the accepted ones."""
    accepted = list(inspect.signature(Queries._filter).parameters)[1:]
    unknown = [name for name in filters if name not in (*accepted, "id", "type")]
    if unknown:
        hint = " (the job id is job=)" if unknown[0] == "name" else ""
        raise TypeError(f"{method}() got an unknown filter {unknown[0]!r}{hint}; accepted: "
                        f"{', '.join(accepted)}")
    found = dict(filters)
    for alias in ("id", "type"):
        if alias not in found:
            continue
        value = found.pop(alias)
        # a run id or handle; a job definition (it has an id too) names the job
        runs = not isinstance(value, JobDefinition | WorkerHandle) and (
            isinstance(value, int) or hasattr(value, "id"))
        target = "ids" if alias == "id" and runs else "job"
        if found.get(target) is not None:
            raise TypeError(f"{method}() got both {alias}= and {target}=; give one")
        found[target] = [read_run_id("id", value)] if target == "ids" else value
    return found
