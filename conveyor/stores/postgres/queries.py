"""The PostgreSQL named queries (core/queries.sql, queries.sql, flow.sql) as bytes, and
the columns of new jobs in the order of the insert_many and copy_jobs statements."""

from __future__ import annotations

from conveyor.stores.core.dialect import JOB_FIELDS as MANY_COLUMNS
from conveyor.stores.postgres.dialect import (
    NUL_IN_PAYLOAD,
    PostgresDialect,
    many_columns,
    many_values,
)

Q: dict[str, bytes] = {name: sql.encode() for name, sql in PostgresDialect.q.items()}

__all__ = ["MANY_COLUMNS", "NUL_IN_PAYLOAD", "Q", "many_columns", "many_values"]
