"""Flow control on SQLite: rules, pauses, per-queue counts and the limited claim.

Claims run inside the store's ``BEGIN IMMEDIATE`` transaction, which already serialises
every claim on the file, so group locks are free here."""

from __future__ import annotations

import functools
import json
import re
import sqlite3
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from conveyor.stores.base_flow import FlowRule
from conveyor.stores.flowlogic import (
    SEP,
    Candidate,
    Exclusions,
    Lookout,
    Rules,
    fits,
    pick,
    placeholders,
    starts_of,
)
from conveyor.stores.sqlite.dialect import SQLiteDialect

if TYPE_CHECKING:
    pass

RULES = SQLiteDialect.q["flow_rules"]


def read_rules(conn: sqlite3.Connection) -> list[FlowRule]:
    return [FlowRule(r[0], r[1], r[2], r[3], r[4], bool(r[5])) for r in conn.execute(RULES)]


class SQLiteFlow:
    """:class:`conveyor.stores.flowlogic.FlowConnection` over one write transaction."""

    def __init__(self, conn: sqlite3.Connection, now: float) -> None:
        self.conn = conn
        self.clock = now

    def now(self) -> float:
        return self.clock

    def peek(self, queues: Sequence[str] | None, skip: Exclusions, limit: int
             ) -> list[Candidate]:
        sql = ("SELECT id, job, queue, concurrency_key FROM conveyor_jobs "
               "WHERE state IN ('pending', 'waiting') AND run_at <= ?")
        params: list[Any] = [self.clock]
        for column, values, test in (
            ("queue", queues, "IN"), ("job", skip.jobs, "NOT IN"),
            ("queue", skip.queues, "NOT IN"),
            (f"job || char({ord(SEP)}) || coalesce(concurrency_key, '')", skip.job_keys,
             "NOT IN"),
        ):
            if values:
                sql += f" AND {column} {test} ({placeholders(values)})"
                params.extend(values)
        sql += " ORDER BY priority DESC, run_at, id LIMIT ?"
        rows = self.conn.execute(sql, [*params, limit]).fetchall()
        return [Candidate(*r) for r in rows]

    def lock(self, groups: Sequence[str], wait: bool) -> set[str]:
        return set(groups)  # BEGIN IMMEDIATE holds the only write lock

    def running(self, jobs: Sequence[str], queues: Sequence[str]
                ) -> list[tuple[str, str, str | None]]:
        rows = self.conn.execute(
            "SELECT job, queue, concurrency_key FROM conveyor_jobs WHERE state = 'running' "
            f"AND (job IN ({placeholders(jobs)}) OR queue IN ({placeholders(queues)}))",
            [*jobs, *queues],
        ).fetchall()
        return [(r[0], r[1], r[2]) for r in rows]

    def rate_used(self, groups: Sequence[str], now: float) -> dict[str, int]:
        rows = self.conn.execute(
            f"SELECT grp, sum(n) FROM conveyor_rate WHERE grp IN ({placeholders(groups)}) "
            "AND expires_at > ? GROUP BY grp", [*groups, now],
        ).fetchall()
        return {r[0]: int(r[1]) for r in rows}

    def record_starts(self, rows: Sequence[tuple[str, float, int, float]]) -> None:
        if not rows:  # no rate limit among the jobs taken (expired buckets: prune_flow)
            return
        self.conn.executemany(
            "INSERT INTO conveyor_rate (grp, bucket, n, expires_at) VALUES (?, ?, ?, ?) "
            "ON CONFLICT (grp, bucket) DO UPDATE SET n = n + excluded.n, "
            "expires_at = max(expires_at, excluded.expires_at)", rows,
        )
        self.conn.execute("DELETE FROM conveyor_rate WHERE expires_at <= ?", (self.clock,))


def pick_due(conn: sqlite3.Connection, q: Mapping[str, str], params: dict[str, Any],
             filter_sql: str) -> tuple[bool, str | None]:
    """Whether a flow rule is in force, and the due jobs the plain claim takes
    (``filter_sql``: :func:`claim_filter`'s) as JSON, read in one step of SQLite; None
    for the JSON if a due job holds a BLOB (written by hand: JSON cannot hold it)."""
    try:
        ruled, picked = by_position(conn, q["claim_pick"].format(queues=filter_sql),
                                    params).fetchone()
    except sqlite3.OperationalError as exc:
        if "BLOB" not in str(exc):
            raise
        return bool(read_rules(conn)), None
    return bool(ruled), picked


def take_picked(conn: sqlite3.Connection, q: Mapping[str, str], params: dict[str, Any],
                picked: str | None, filter_sql: str) -> list[Any]:
    """Lease the jobs :func:`pick_due` picked; their rows, laid out as ``take``'s
    RETURNING list (``picked`` None: the plain claim row by row, the BLOB as it is, for
    the worker to fail that job alone)."""
    if picked is None:
        return conn.execute(q["claim"].format(queues=filter_sql), params).fetchall()
    rows: list[list[Any]] = json.loads(picked)
    if not rows:
        return rows
    ids = ",".join(str(r[0]) for r in rows)
    by_position(conn, q["claim_take"], {**params, "ids": f"[{ids}]"})
    now = params["now"]
    for r in rows:
        if r[7] is not None:
            r[7] = float(r[7])
        r[8] = float(r[8])
        r[16] = now
    return rows


def by_position(conn: sqlite3.Connection, sql: str, params: Mapping[str, Any]
                ) -> sqlite3.Cursor:
    """``conn.execute(sql, params)`` for ``:name`` parameters (none inside a literal),
    bound by position: CPython's sqlite3 gives up the GIL to look up each name it binds,
    and every time it waits to get it back behind the worker's job threads."""
    numbered, names = _numbered(sql)
    return conn.execute(numbered, [params[name] for name in names])


@functools.lru_cache(maxsize=256)
def _numbered(sql: str) -> tuple[str, tuple[str, ...]]:
    """``sql`` with each ``:name`` as ``?N`` (N: the name's place in the tuple)."""
    names: dict[str, int] = {}

    def number(match: re.Match[str]) -> str:
        return f"?{names.setdefault(match[1], len(names) + 1)}"

    return re.sub(r":([A-Za-z_]\w*)", number, sql), tuple(names)


def claim_limited(conn: sqlite3.Connection, rules: Rules, q: Mapping[str, str],
                  params: dict[str, Any], queues: Sequence[str] | None, limit: int,
                  lookout: Lookout) -> list[Any]:
    """Claim under flow rules (``q``: the store's queries, the plain claim's and ``take``).

    The plain claim is tried first, inside a savepoint: if the jobs it took keep every
    limit (counted under the write lock), they are what :func:`pick` would choose, at the
    cost of a plain claim and the counts; otherwise it is rolled back and :func:`pick`
    chooses, and goes on choosing for a second (:meth:`Lookout.optimistic`) unless it
    leaves room for as many jobs again (and at least ``PEEK``) in every limit it meets."""
    flow = SQLiteFlow(conn, params["now"])
    if lookout.optimistic():
        conn.execute("SAVEPOINT conveyor_plain_take")
        filter_sql = claim_filter(params, queues, rules.paused_jobs, rules.paused_queues)
        _, picked = pick_due(conn, q, params, filter_sql)
        rows = take_picked(conn, q, params, picked, filter_sql)
        taken = [(r[1], r[11], r[17]) for r in rows]
        if fits(flow, rules, taken, flow.clock):
            conn.execute("RELEASE conveyor_plain_take")
            flow.record_starts(starts_of(rules, taken, flow.clock))
            return rows
        conn.execute("ROLLBACK TO conveyor_plain_take")
        conn.execute("RELEASE conveyor_plain_take")
        lookout.miss()
    ids, now = pick(flow, rules, queues, limit, lookout)
    if not ids:
        return []
    params = {**params, "now": now}
    for i, job_id in enumerate(ids):
        params[f"id{i}"] = job_id
    rows = conn.execute(
        q["take"].format(ids=", ".join(f":id{i}" for i in range(len(ids)))), params
    ).fetchall()
    flow.record_starts(starts_of(rules, [(r[1], r[11], r[17]) for r in rows], now))
    return rows


def claim_filter(params: dict[str, Any], queues: Sequence[str] | None,
                 paused_jobs: Sequence[str] = (), paused_queues: Sequence[str] = ()) -> str:
    """The plain claim's ``{queues}``: the worker's queues, without paused names (their
    values added to ``params``)."""
    sql = ""
    for prefix, column, test, values in (("q", "queue", "IN", queues),
                                         ("pj", "job", "NOT IN", paused_jobs),
                                         ("pq", "queue", "NOT IN", paused_queues)):
        if values:
            names = []
            for i, value in enumerate(values):
                params[f"{prefix}{i}"] = value
                names.append(f":{prefix}{i}")
            sql += f" AND {column} {test} ({', '.join(names)})"
    return sql
