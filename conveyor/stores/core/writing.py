"""Storing jobs: plain, bulk, in the caller's transaction, and with dedupe (``unique`` /
``replace``) or a schedule occurrence: the algorithm once. How a batch of plain jobs is
stored fastest is the dialect's (``insert_plain``: multi-row VALUES on SQLite, unnest or
COPY on PostgreSQL)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from conveyor.errors import StoreError
from conveyor.stores.base import ClaimedJob, NewJob
from conveyor.stores.core.dialect import JOB_FIELDS, Dialect
from conveyor.stores.group import GroupCommit, committing
from conveyor.stores.rows import Alike


def dedupe_key(job: NewJob) -> str:
    """At most one pending job per (job, key, owner) holds this key (a unique index). Each
    part is length-prefixed, so no two triples share one (key ``""`` is not ``None``)."""
    return "".join("-" if part is None else f"{len(part)}:{part}"
                   for part in (job.job, job.key, job.owner))


def _distinct(jobs: Sequence[NewJob]) -> Sequence[NewJob]:
    """The jobs to read a field outside ``Alike.varying`` of: an ``Alike`` batch's first
    stands for all of them."""
    return [jobs.first] if isinstance(jobs, Alike) else jobs


def claimed(rows: list[Any], token: int) -> list[ClaimedJob]:
    """The jobs a claim's rows (its RETURNING list) hold, in claim order."""
    try:
        rows.sort(key=lambda r: (-r[15], r[8], r[0]))
    except TypeError:  # a priority no trigger stores (SQLite holds text written by hand)
        rows.sort(key=lambda r: (-r[15] if isinstance(r[15], int | float) else 0, r[8], r[0]))
    # Positional (twice as fast as keywords, on every claimed job's path), in field order:
    # id, job, args, kwargs, attempt, token, max_attempts, retry, timeout, run_at,
    # started_at, owner, key, queue, version, schedule_id, event_id, trace_context.
    return [ClaimedJob(r[0], r[1], r[2], r[3], r[4], token, r[5], r[6], r[7], r[8], r[16],
                       r[9], r[10], r[11], r[12], r[13], r[14], r[18]) for r in rows]


class InsertCore:
    """``insert`` of a SQL store; ``d`` is its dialect."""

    d: Dialect
    group: GroupCommit[NewJob, int]

    _link: Callable[[Any, Sequence[NewJob], Sequence[int]], None]  # WorkflowsCore
    def insert(self, jobs: Sequence[NewJob], connection: Any = None) -> list[int]:
        """Store jobs in one transaction. With ``connection`` (the driver's own), they are
        stored in that connection's current transaction: they exist if and only if the
        caller commits."""
        if connection is not None:
            with self.d.adopt(connection) as conn:
                ids = self._insert(conn, jobs)
        else:
            one = jobs[0] if len(jobs) == 1 else None
            if one and not one.dedupe and not one.schedule_id and not one.linked:
                return [self.group.insert(one)]  # concurrent triggers share commits
            ids = self.d.attempt(lambda: self._insert_alone(jobs))
        self.d.inserted()
        return ids

    def _insert_alone(self, jobs: Sequence[NewJob]) -> list[int]:
        """Store jobs in a transaction of their own (run again if it was aborted to break
        a deadlock: nothing of it was committed)."""
        with self.d.writing() as conn:
            return self._insert(conn, jobs)

    def _store_plain(self, jobs: Sequence[NewJob]) -> list[int]:
        """Plain jobs (no dedupe, schedule or links) in one transaction, ids in order."""
        if self.d.one_statement(len(jobs)):
            with self.d.one() as conn:
                committing()  # its one statement commits (autocommit)
                ids = self._insert_plain(conn, jobs)
        else:
            with self.d.writing() as conn:
                ids = self._insert_plain(conn, jobs)
                committing()  # (the transaction commits as the block ends)
        self.d.inserted()
        return ids

    def _insert(self, conn: Any, jobs: Sequence[NewJob]) -> list[int]:
        ids = self._insert_jobs(conn, jobs)
        if any(j.linked for j in _distinct(jobs)):
            self._link(conn, jobs, ids)
        return ids

    def _insert_jobs(self, conn: Any, jobs: Sequence[NewJob]) -> list[int]:
        """Store ``jobs`` on ``conn`` (in a transaction); their ids in order."""
        if not any(j.dedupe or j.schedule_id for j in _distinct(jobs)):
            return self._insert_plain(conn, jobs)
        self._lock_dedupe(conn, jobs)
        return [self._insert_in(conn, j) for j in jobs]

    def _insert_plain(self, conn: Any, jobs: Sequence[NewJob]) -> list[int]:
        """Store plain ``jobs`` on ``conn``; their ids in order (a store may translate its
        driver's errors here and in ``_insert_jobs``)."""
        return self.d.insert_plain(conn, jobs)

    def _lock_dedupe(self, conn: Any, jobs: Sequence[NewJob]) -> None:
        """Take the dedupe locks of a batch of several job ids or owners in one order
        first: two batches taking them job by job, each in its own order, deadlock."""
        pairs = sorted({(j.job, j.owner or "") for j in _distinct(jobs) if j.dedupe})
        if len(pairs) > 1:
            for job, owner in pairs:
                self.d.maybe(conn, "dedupe_lock", {"job": job, "owner": owner})

    def _insert_in(self, conn: Any, j: NewJob) -> int:
        """Store one job (in the open transaction on ``conn``): an occurrence already
        stored, or a ``unique`` job matching a pending one, returns that one's id; a
        ``replace`` job cancels the pending ones it matches."""
        d = self.d
        params = d.params(**{name: getattr(j, name) for name in JOB_FIELDS}, dedupe_key=None)
        occurrence = j.schedule_id is not None and j.fire_at is not None
        if occurrence and (found := self._existing(conn, params)):
            return found
        if j.dedupe:
            d.maybe(conn, "dedupe_lock", params)  # serialise decisions across processes
            query = "match_pending" if j.key is None else "match_pending_key"
            matches = [r[0] for r in d.run(conn, query, params)]
            if matches and j.dedupe == "unique":
                return int(matches[0])
            if matches:
                d.cancel(conn, "cancel_ids", d.params(ids=d.array(matches)))
            params["dedupe_key"] = dedupe_key(j)
        row = d.run(conn, "insert_one", params).fetchone()
        if row:
            return int(row[0])
        found = self._existing(conn, params)  # a racing process stored it first
        if found is None:
            raise StoreError(f"could not store job {j.job!r}: it conflicts with another job")
        return found

    def _existing(self, conn: Any, params: dict[str, Any]) -> int | None:
        row = self.d.run(conn, "find_existing", params).fetchone()
        return int(row[0]) if row else None
