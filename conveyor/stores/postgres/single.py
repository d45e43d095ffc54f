"""One plain job in one round trip, with the least client CPU: a statement prepared once
per pooled connection (named by which columns the job binds), its values packed in binary
by hand and sent with libpq's own call, the result awaited as psycopg awaits one (so
Ctrl-C still cancels it). A psycopg cursor spends ~100 µs of client CPU on the same
statement (parsing, adapting, its prepare manager), this ~45 µs: a trigger from one
producer waits for the client and the server in turn, so it shows in enqueue/s.

Only the store's own pooled connections take it (marked when the pool makes them), and
only jobs whose values are of the columns' usual types; anything else returns None and
goes through a cursor as before.
"""

from __future__ import annotations

import functools
import struct
from typing import Any

import psycopg
from psycopg import errors as pg_errors
from psycopg import generators, pq

from conveyor.errors import StoreError
from conveyor.stores.core.dialect import JOB_FIELDS

NOW = "conveyor_now()"
# What a single plain INSERT leaves out when equal to it: None for a nullable column; for
# a NOT NULL one (and run_at/delay, which make the due time) a marker no value is.
OMITTED = tuple(
    object() if name in ("job", "args", "kwargs", "payload", "priority", "queue",
                         "max_attempts", "run_at", "delay") else None
    for name in JOB_FIELDS
)
_CASTS = {"payload": "::jsonb", "owner_int": "::boolean"}
_TEXT, _INT8, _FLOAT8, _BOOL = 25, 20, 701, 16  # type oids
_TYPES = tuple(
    _INT8 if name in ("priority", "max_attempts", "rescheduled_from")
    else _FLOAT8 if name in ("timeout", "retention", "remove_delay", "run_at", "delay",
                             "fire_at")
    else _BOOL if name == "owner_int" else _TEXT
    for name in JOB_FIELDS
)
_INT8_RANGE = range(-(2**63), 2**63)
_PACK_INT8, _PACK_FLOAT8 = struct.Struct(">q").pack, struct.Struct(">d").pack
_TUPLES_OK, _IDLE = pq.ExecStatus.TUPLES_OK, pq.TransactionStatus.IDLE
PREPARED = "_conveyor_prepared"  # a pooled connection's set of prepared statement names


@functools.lru_cache(maxsize=64)
def insert_sql(present: tuple[bool, ...]) -> str:
    """INSERT of one plain job binding only its ``present`` values (JOB_FIELDS order): a
    NULL column is left to its default, NULL, and costs nothing to send or convert."""
    names = [name for name, given in zip(JOB_FIELDS, present, strict=True)
             if given and name != "delay"]
    values = ["coalesce(%s::float8, t.now + %s)" if name == "run_at"
              else f"%s{_CASTS.get(name, '')}" for name in names]
    return (f"INSERT INTO conveyor_jobs (state, created_at, {', '.join(names)}) "
            f"SELECT 'pending', t.now, {', '.join(values)} FROM (SELECT {NOW} AS now) AS t "
            "ON CONFLICT DO NOTHING RETURNING id")


@functools.lru_cache(maxsize=64)
def _statement(present: tuple[bool, ...]) -> tuple[bytes, bytes, list[int]]:
    """The prepared form of ``insert_sql(present)``: its name, text ($n parameters) and
    parameter types."""
    parts = insert_sql(present).split("%s")
    text = parts[0] + "".join(f"${n}{part}" for n, part in enumerate(parts[1:], 1))
    types = [kind for kind, given in zip(_TYPES, present, strict=True) if given]
    name = f"conveyor_insert_{sum(1 << i for i, given in enumerate(present) if given):x}"
    return name.encode(), text.encode(), types


def pooled(conn: psycopg.Connection[Any]) -> None:
    """Mark a connection the store's pool made: it may take the prepared single insert."""
    setattr(conn, PREPARED, set())


def _packed(values: tuple[Any, ...], types: list[int], encoding: str) -> list[bytes | None] | None:
    """The values in binary, or None if one is not of its column's usual type."""
    out: list[bytes | None] = []
    for value, kind in zip(values, types, strict=True):
        kind_of = type(value)
        if value is None:
            out.append(None)
        elif kind == _TEXT and kind_of is str:
            out.append(value.encode(encoding))  # a NUL: the server refuses the text
        elif kind_of is int and kind != _TEXT and kind != _BOOL and value in _INT8_RANGE:
            out.append(_PACK_INT8(value) if kind == _INT8 else _PACK_FLOAT8(value))
        elif kind == _FLOAT8 and kind_of is float:
            out.append(_PACK_FLOAT8(value))
        elif kind == _BOOL and kind_of is bool:
            out.append(b"\x01" if value else b"\x00")
        else:
            return None
    return out


def insert_one(conn: Any, job: str, present: tuple[bool, ...],
               values: tuple[Any, ...]) -> int | None:
    """Store one plain job (its ``present`` values) on a pooled connection outside a
    transaction; its id, or None where the cursor must do it."""
    prepared: set[bytes] | None = getattr(conn, PREPARED, None)
    if prepared is None:
        return None
    pgconn = conn.pgconn
    if pgconn.transaction_status != _IDLE or pgconn.pipeline_status:
        return None
    name, text, types = _statement(present)
    params = _packed(values, types, conn.info.encoding)
    if params is None:
        return None
    if name not in prepared:
        pgconn.send_prepare(name, text, types)
        _result(conn, conn.wait(generators.execute(pgconn)))
        prepared.add(name)
    pgconn.send_query_prepared(name, params, [1] * len(params))
    try:
        result = _result(conn, conn.wait(generators.execute(pgconn)))
    except pg_errors.InvalidSqlStatementName:  # deallocated behind our back (DISCARD ALL)
        prepared.clear()
        return None
    if not result.ntuples:
        raise StoreError(f"could not store job {job!r}: it conflicts with another job")
    return int(result.get_value(0, 0) or 0)


def _result(conn: Any, results: list[Any]) -> Any:
    result = results[-1]
    if result.status not in (_TUPLES_OK, pq.ExecStatus.COMMAND_OK):
        raise pg_errors.error_from_result(result, encoding=conn.info.encoding)
    return result
