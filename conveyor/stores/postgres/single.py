"""Plain jobs in one round trip with the least client CPU: statements prepared once per
pooled connection (a single job's named by which columns it binds; a batch's is
insert_many over arrays), values packed in binary by hand and sent with libpq's own call,
the result awaited as psycopg awaits one (so Ctrl-C still cancels it). A psycopg cursor
spends ~100 µs of client CPU on a single job's statement (parsing, adapting, its prepare
manager), this ~45 µs: a trigger from one producer waits for the client and the server in
turn, so it shows in enqueue/s.

Only the store's own pooled connections take it (marked when the pool makes them), outside
a transaction, and only values of the columns' usual types; anything else returns None and
goes through a cursor as before.
"""

from __future__ import annotations

import functools
import re
import struct
import zlib
from contextlib import suppress
from typing import Any

import psycopg
from psycopg import errors as pg_errors
from psycopg import generators, pq

from conveyor.clock import DUE_SQL
from conveyor.errors import StoreError
from conveyor.stores.core.dialect import JOB_FIELDS
from conveyor.stores.postgres.arrays import (
    BOOLS,
    FLOAT8S,
    INT8S,
    TEXTS,
    Float8s,
    Int8s,
    Texts,
    pack_bools,
    pack_float8s,
    pack_int8s,
    pack_texts,
)

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
# The job columns by type (the rest are text, owner_int a boolean): here and for the
# arrays of the cursor's insert_many (dialect.py).
INT8_COLUMNS = ("priority", "max_attempts", "rescheduled_from")
FLOAT8_COLUMNS = ("timeout", "retention", "remove_delay", "run_at", "delay", "fire_at")
INT8_RANGE = range(-(2**63), 2**63)
_TYPES = tuple(
    _INT8 if name in INT8_COLUMNS else _FLOAT8 if name in FLOAT8_COLUMNS
    else _BOOL if name == "owner_int" else _TEXT
    for name in JOB_FIELDS
)
_ARRAYS = {_TEXT: TEXTS, _INT8: INT8S, _FLOAT8: FLOAT8S, _BOOL: BOOLS}
_PACK_INT8, _PACK_FLOAT8 = struct.Struct(">q").pack, struct.Struct(">d").pack
_TUPLES_OK, _IDLE = pq.ExecStatus.TUPLES_OK, pq.TransactionStatus.IDLE
PREPARED = "_conveyor_prepared"  # a pooled connection's set of prepared statement names
TAG = "_conveyor_statement_tag"  # appended to them: the schema the connection works in


@functools.lru_cache(maxsize=64)
def insert_sql(present: tuple[bool, ...]) -> str:
    """INSERT of one plain job binding only its ``present`` values (JOB_FIELDS order): a
    NULL column is left to its default, NULL, and costs nothing to send or convert."""
    names = [name for name, given in zip(JOB_FIELDS, present, strict=True)
             if given and name != "delay"]
    values = [f"coalesce(%s::float8, {DUE_SQL.format(now='t.now', delay='%s::float8')})"
              if name == "run_at"
              else f"%s{_CASTS.get(name, '')}" for name in names]
    # Of the unique indexes, such a row can only meet the occurrence one (its id comes from
    # the identity): without a schedule the arbiter checks of ON CONFLICT (a speculative
    # insertion) would cost ~4% of the statement's server CPU for nothing.
    conflict = "ON CONFLICT DO NOTHING " if "schedule_id" in names else ""
    return (f"INSERT INTO conveyor_jobs (state, created_at, {', '.join(names)}) "
            f"SELECT 'pending', t.now, {', '.join(values)} FROM (SELECT {NOW} AS now) AS t "
            f"{conflict}RETURNING id")


@functools.lru_cache(maxsize=64)
def _statement(present: tuple[bool, ...]) -> tuple[bytes, bytes, list[int]]:
    """The prepared form of ``insert_sql(present)``: its name, text ($n parameters) and
    parameter types."""
    parts = insert_sql(present).split("%s")
    text = parts[0] + "".join(f"${n}{part}" for n, part in enumerate(parts[1:], 1))
    types = [kind for kind, given in zip(_TYPES, present, strict=True) if given]
    name = f"conveyor_insert_{sum(1 << i for i, given in enumerate(present) if given):x}"
    return name.encode(), text.encode(), types


def pooled(conn: psycopg.Connection[Any], schema: str | None = None) -> None:
    """Mark a connection the store's pool made: it may take the prepared single insert.
    Its statements' names carry the ``schema`` (a short hash of it), so a pooler that
    shares server sessions between apps never runs one app's INSERT for another's."""
    setattr(conn, PREPARED, set())
    setattr(conn, TAG, f"_{zlib.crc32(schema.encode()):08x}".encode() if schema else b"")


def _packed(values: tuple[Any, ...], types: list[int], encoding: str) -> list[bytes | None] | None:
    """The values in binary, or None if one is not of its column's usual type."""
    out: list[bytes | None] = []
    for value, kind in zip(values, types, strict=True):
        kind_of = type(value)
        if value is None:
            out.append(None)
        elif kind == _TEXT and kind_of is str:
            out.append(value.encode(encoding))  # a NUL: the server refuses the text
        elif kind_of is int and kind != _TEXT and kind != _BOOL and value in INT8_RANGE:
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
    """Store one plain job (its ``present`` values); its id, or None where the cursor
    must do it."""
    prepared = _prepared(conn)
    if prepared is None:
        return None
    statement = _statement(present)
    params = _packed(values, statement[2], conn.info.encoding)
    if params is None:
        return None
    result = _run(conn, prepared, statement, params)
    if result is None:
        return None
    if not result.ntuples:
        raise StoreError(f"could not store job {job!r}: it conflicts with another job")
    return int(result.get_value(0, 0) or 0)


def many_statement(sql: str) -> tuple[bytes, bytes, list[int]]:
    """insert_many (``%(name)b`` array parameters of JOB_FIELDS) as a prepared statement."""
    text = re.sub(r"%\((\w+)\)b", lambda m: f"${JOB_FIELDS.index(m.group(1)) + 1}", sql)
    types = [_ARRAYS[kind] for kind in _TYPES]
    return b"conveyor_insert_many", text.encode(), types


def insert_many(conn: Any, statement: tuple[bytes, bytes, list[int]],
                columns: dict[str, list[Any]]) -> list[int] | None:
    """Store plain jobs given as ``many_columns`` (arrays); their ids in order, or None
    where the cursor must do it."""
    prepared = _prepared(conn)
    if prepared is None:
        return None
    encoding = conn.info.encoding
    params: list[bytes | None] = []
    for name in JOB_FIELDS:
        values, kind = columns[name], type(columns[name])
        if kind is Texts:
            params.append(pack_texts(values, encoding))
        elif kind is Float8s:
            params.append(pack_float8s(values))
        elif kind is Int8s:
            params.append(pack_int8s(values))
        elif name == "owner_int" and all(v is None or type(v) is bool for v in values):
            params.append(pack_bools(values))
        else:
            return None
    result = _run(conn, prepared, statement, params)
    if result is None:
        return None
    return sorted(int(result.get_value(row, 0) or 0) for row in range(result.ntuples))


def _prepared(conn: Any) -> set[bytes] | None:
    """The names prepared on a pooled connection that may take a prepared statement
    now (outside a transaction or pipeline), else None."""
    prepared: set[bytes] | None = getattr(conn, PREPARED, None)
    if prepared is None:
        return None
    pgconn = conn.pgconn
    if pgconn.transaction_status != _IDLE or pgconn.pipeline_status:
        return None
    return prepared


def _run(conn: Any, prepared: set[bytes], statement: tuple[bytes, bytes, list[int]],
         params: list[bytes | None]) -> Any:
    """The statement's result (prepared first if it is not yet), or None if the server
    no longer has it (deallocated behind our back, e.g. a pooler's DISCARD ALL)."""
    name, text, types = statement
    name += getattr(conn, TAG, b"")
    pgconn = conn.pgconn
    if name not in prepared:
        pgconn.send_prepare(name, text, types)
        # (already there: prepared by a call interrupted before it noted so, by Ctrl-C)
        with suppress(pg_errors.DuplicatePreparedStatement):
            _result(conn, conn.wait(generators.execute(pgconn)))
        prepared.add(name)
    pgconn.send_query_prepared(name, params, [1] * len(params))
    try:
        return _result(conn, conn.wait(generators.execute(pgconn)))
    except pg_errors.InvalidSqlStatementName:
        prepared.clear()
        return None


def _result(conn: Any, results: list[Any]) -> Any:
    result = results[-1]
    if result.status not in (_TUPLES_OK, pq.ExecStatus.COMMAND_OK):
        raise pg_errors.error_from_result(result, encoding=conn.info.encoding)
    return result
