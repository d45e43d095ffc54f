"""SQLite store package."""

from conveyor.stores.sqlite.store import SQLiteStore

__all__ = ["SQLiteStore"]
