"""One-dimensional bigint, float8 and text arrays sent in binary, packed in one go.

psycopg's binary list dumper finds a dumper and packs a length for every element in
Python (~0.3 µs each); a flush of 30 outcomes sends 8 arrays, ~70 µs of client CPU per
statement. These wrap a list whose element type the caller knows and pack it with one
``struct.pack`` (text: one join), the same bytes psycopg would send
(tests/postgres/test_arrays.py compares them).
"""

from __future__ import annotations

import functools
import struct
from typing import Any

import psycopg
from psycopg.adapt import Dumper
from psycopg.postgres import types as pg_types
from psycopg.pq import Format

_INT8, _FLOAT8, _TEXT, _BOOL = (pg_types[name] for name in ("int8", "float8", "text", "bool"))
#: The array type oids of the packers below.
INT8S, FLOAT8S, TEXTS, BOOLS = (t.array_oid for t in (_INT8, _FLOAT8, _TEXT, _BOOL))
_HEAD = struct.Struct(">iiIii")  # dimensions, has nulls, element oid, length, lower bound
_NULL = struct.pack(">i", -1)
_LENGTH = struct.Struct(">i").pack
_TRUE, _FALSE = _LENGTH(1) + b"\x01", _LENGTH(1) + b"\x00"


class Int8s(list[int | None]):
    """A ``bigint[]`` parameter (None: NULL)."""


class Float8s(list[float | None]):
    """A ``float8[]`` parameter (None: NULL)."""


class Texts(list[str | None]):
    """A ``text[]`` parameter (None: NULL)."""


@functools.lru_cache(maxsize=256)
def _pairs(code: str, n: int) -> struct.Struct:
    """n (length, value) pairs, the value packed as ``code``."""
    return struct.Struct(">" + ("i" + code) * n)


def _empty(oid: int) -> bytes:
    return struct.pack(">iiI", 0, 0, oid)


def _eight_bytes(oid: int, code: str, obj: Any) -> bytes:
    """An array of 8-byte elements (``code``: struct's ``q`` or ``d``); None: NULL."""
    n = len(obj)
    if not n:
        return _empty(oid)
    if None not in obj:
        pairs: list[Any] = [8] * (2 * n)
        pairs[1::2] = obj
        return _HEAD.pack(1, 0, oid, n, 1) + _pairs(code, n).pack(*pairs)
    item = struct.Struct(">i" + code).pack
    return _HEAD.pack(1, 1, oid, n, 1) + b"".join(
        _NULL if x is None else item(8, x) for x in obj)


class _Int8sDumper(Dumper):
    format = Format.BINARY
    oid = _INT8.array_oid

    def dump(self, obj: Any) -> bytes:
        return pack_int8s(obj)


class _Float8sDumper(Dumper):
    format = Format.BINARY
    oid = _FLOAT8.array_oid

    def dump(self, obj: Any) -> bytes:
        return pack_float8s(obj)


class _TextsDumper(Dumper):
    format = Format.BINARY
    oid = _TEXT.array_oid

    def __init__(self, cls: type, context: Any = None) -> None:
        super().__init__(cls, context)
        conn = self.connection
        self.encoding = conn.info.encoding if conn is not None else "utf-8"

    def dump(self, obj: Any) -> bytes:
        return pack_texts(obj, self.encoding)


def pack_int8s(obj: Any) -> bytes:
    """A ``bigint[]`` in binary (None: NULL)."""
    return _eight_bytes(_INT8.oid, "q", obj)


def pack_float8s(obj: Any) -> bytes:
    """A ``float8[]`` in binary (None: NULL)."""
    return _eight_bytes(_FLOAT8.oid, "d", obj)


def pack_texts(obj: Any, encoding: str) -> bytes:
    """A ``text[]`` in binary (None: NULL)."""
    n = len(obj)
    if not n:
        return _empty(_TEXT.oid)
    parts = [_HEAD.pack(1, 1 if None in obj else 0, _TEXT.oid, n, 1)]
    for x in obj:
        if x is None:
            parts.append(_NULL)
        else:
            data = x.encode(encoding)
            parts.append(_LENGTH(len(data)))
            parts.append(data)
    return b"".join(parts)


def pack_bools(obj: Any) -> bytes:
    """A ``boolean[]`` in binary (None: NULL)."""
    n = len(obj)
    if not n:
        return _empty(_BOOL.oid)
    return _HEAD.pack(1, 1 if None in obj else 0, _BOOL.oid, n, 1) + b"".join(
        _NULL if x is None else _TRUE if x else _FALSE for x in obj)


# On psycopg's global map, before any connection copies it: the types are conveyor's own,
# so no other user of psycopg in the process sees a change.
psycopg.adapters.register_dumper(Int8s, _Int8sDumper)
psycopg.adapters.register_dumper(Float8s, _Float8sDumper)
psycopg.adapters.register_dumper(Texts, _TextsDumper)
