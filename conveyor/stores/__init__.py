"""Store selection by URL. Only this package knows about databases."""

from __future__ import annotations

import os
from urllib.parse import unquote, urlsplit

from conveyor.errors import ConfigurationError
from conveyor.stores.base import Store

DEFAULT_URL = "sqlite:///conveyor.db"
ACCEPTED = "sqlite:///path/to/file.db, memory://, postgresql://user@host/db"


def resolve_url(url: str | None) -> str:
    """The URL given, else $CONVEYOR_URL, else the default SQLite file."""
    if url is not None and not (isinstance(url, str) and url.strip()):
        raise ConfigurationError(f"invalid store URL {url!r}; accepted: {ACCEPTED}")
    return url or os.environ.get("CONVEYOR_URL") or DEFAULT_URL


def open_store(url: str, **options: object) -> Store:
    """Open (not yet migrate) the store a URL names."""
    if not isinstance(url, str) or "://" not in url:
        raise ConfigurationError(f"invalid store URL {url!r}; accepted: {ACCEPTED}")
    scheme = url.split("://", 1)[0].lower()
    if scheme == "memory":
        from conveyor.stores.memory import MemoryStore

        return MemoryStore(url)
    if scheme == "sqlite":
        from conveyor.stores.sqlite import SQLiteStore

        path = unquote(urlsplit(url).path)
        path = path[1:] if path.startswith("/") else path  # sqlite:///rel, sqlite:////abs
        if "\x00" in path:
            raise ConfigurationError(f"invalid SQLite URL {url!r}: the path contains a NUL "
                                     "character")
        if not path or path == ":memory:":
            raise ConfigurationError(
                f"invalid SQLite URL {url!r}: give a file path, e.g. sqlite:///conveyor.db "
                "(relative) or sqlite:////var/lib/jobs.db (absolute); use memory:// for "
                "an in-memory store"
            )
        return SQLiteStore(url, path)
    if scheme in ("postgresql", "postgres"):
        try:
            from conveyor.stores.postgres import PostgresStore  # type: ignore[import-not-found,unused-ignore]
        except ImportError as exc:
            if not (exc.name or "").startswith("psycopg"):
                raise  # a bug in conveyor itself, not a missing driver
            raise ConfigurationError(
                f"the PostgreSQL store needs psycopg: pip install 'conveyor[postgres]' ({exc})"
            ) from None
        store: Store = PostgresStore(url, **options)
        return store
    raise ConfigurationError(
        f"unknown store URL scheme {scheme!r} in {url!r}; accepted: {ACCEPTED}"
    )


__all__ = ["DEFAULT_URL", "Store", "open_store", "resolve_url"]
