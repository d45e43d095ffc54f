"""PostgreSQL store package: ``postgresql://user@host/db[?schema=name]``."""

from conveyor.stores.postgres.store import PostgresStore

__all__ = ["PostgresStore"]
