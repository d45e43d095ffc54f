"""Migrated PostgreSQL schemas reused from test to test (emptied in between).

Migrating a new schema is most of the set-up time of a PostgreSQL test (a hundred DDL
statements: 0.1 s on a quiet machine, several times that on a busy one); emptying one
takes a few milliseconds. A schema is only reused when it is exactly what the migrations
made (tables, columns, indexes, constraints, functions, triggers, sequences and the
migrations recorded): one a test altered is left alone (dropped with the session's
database), and so is one still locked by a connection the test left open.
"""

from __future__ import annotations

import itertools
import os
from typing import Any

import psycopg
from psycopg import sql

from conveyor.stores.postgres import migrations

#: Everything the migrations define in a schema, as text (``{schema}.`` stripped).
_SHAPE = """
SELECT string_agg(replace(replace(part, %(schema)s || '.', ''), '=' || %(schema)s, '='),
                  E'\\n' ORDER BY part) FROM (
    SELECT format('%%s %%s %%s', c.relkind, c.relname, pg_get_indexdef(c.oid)) AS part
    FROM pg_class c WHERE c.relnamespace = %(schema)s::regnamespace
  UNION ALL
    SELECT format('column %%s.%%s %%s %%s %%s %%s', c.relname, a.attname,
                  format_type(a.atttypid, a.atttypmod), a.attnotnull, a.attidentity,
                  pg_get_expr(d.adbin, d.adrelid))
    FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid
    LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
    WHERE c.relnamespace = %(schema)s::regnamespace AND a.attnum > 0
        AND NOT a.attisdropped
  UNION ALL
    SELECT format('constraint %%s %%s %%s', conrelid::regclass, conname,
                  pg_get_constraintdef(oid))
    FROM pg_constraint WHERE connamespace = %(schema)s::regnamespace
  UNION ALL
    SELECT format('function %%s %%s %%s', p.oid::regprocedure,
                  md5(replace(p.prosrc, %(schema)s || '.', '')), p.proconfig)
    FROM pg_proc p WHERE p.pronamespace = %(schema)s::regnamespace
  UNION ALL
    SELECT format('trigger %%s', pg_get_triggerdef(t.oid))
    FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid
    WHERE c.relnamespace = %(schema)s::regnamespace AND NOT t.tgisinternal
  UNION ALL
    SELECT format('sequence %%s %%s %%s %%s %%s %%s %%s', s.seqrelid::regclass, s.seqstart,
                  s.seqincrement, s.seqmin, s.seqmax, s.seqcache, s.seqcycle)
    FROM pg_sequence s JOIN pg_class c ON c.oid = s.seqrelid
    WHERE c.relnamespace = %(schema)s::regnamespace
  UNION ALL
    SELECT 'migration ' || name FROM {migrations}
) parts
"""


class SchemaPool:
    """Schemas of one test session's database (``database_url``): :meth:`take` gives a
    test an empty migrated schema of its own (or a new name, migrated by the app the
    test opens); :meth:`give_back` empties it for the next test, if it is still as the
    migrations made it."""

    def __init__(self, database_url: str) -> None:
        self.database_url = database_url
        self.free: list[str] = []
        self._numbers = itertools.count(1)
        self._conn: psycopg.Connection[Any] | None = None
        self._shape: str | None = None

    def take(self) -> str:
        schema = self.free.pop() if self.free else self._new_name()
        return f"{self.database_url}?schema={schema}"

    def give_back(self, url: str) -> None:
        schema = url.rpartition("?schema=")[2]
        try:
            if self._empty(schema):
                self.free.append(schema)
        except psycopg.Error:
            self.close()  # left as it is; the next give_back reconnects

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    def _new_name(self) -> str:
        return f"p{os.getpid()}_{next(self._numbers)}"

    def _connection(self) -> psycopg.Connection[Any]:
        if self._conn is None or self._conn.closed:
            # A lock held by a connection a test left open fails the checks in 2 s.
            self._conn = psycopg.connect(self.database_url, autocommit=True, connect_timeout=5,
                                         options="-c lock_timeout=2s")
        return self._conn

    def _shape_of(self, schema: str) -> str | None:
        query = sql.SQL(_SHAPE).format(migrations=sql.Identifier(schema, "conveyor_migrations"))
        found = self._connection().execute(query, {"schema": schema}).fetchone()
        return None if found is None else found[0]

    def _migrated_shape(self) -> str | None:
        """The shape of a schema the migrations just made (made once per session)."""
        if self._shape is None:
            reference = self._new_name()
            conn = self._connection()
            conn.execute(sql.SQL("SET search_path = {}").format(sql.Identifier(reference)))
            migrations.apply(conn, reference)
            conn.execute("RESET search_path")
            self._shape = self._shape_of(reference)
        return self._shape

    def _empty(self, schema: str) -> bool:
        """Delete every row but the migrations' and restart the sequences, if the schema
        exists with the migrated shape and no connection holds a lock on its tables."""
        conn = self._connection()
        exists = conn.execute("SELECT to_regnamespace(%s) IS NOT NULL", (schema,)).fetchone()
        if not (exists and exists[0]) or self._shape_of(schema) != self._migrated_shape():
            return False
        relations = conn.execute(
            "SELECT relname, relkind FROM pg_class WHERE relnamespace = %s::regnamespace "
            "AND relkind IN ('r', 'S') AND relname <> 'conveyor_migrations'", (schema,),
        ).fetchall()
        empty = [sql.SQL("DELETE FROM {}" if kind == "r" else "ALTER SEQUENCE {} RESTART")
                 .format(sql.Identifier(schema, name)) for name, kind in relations]
        with conn.transaction():
            conn.execute(sql.SQL("; ").join(empty))
        return True
