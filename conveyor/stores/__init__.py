"""Store selection by URL. Only this package knows about databases."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Sequence
from typing import Any
from urllib.parse import unquote, urlsplit

from conveyor.errors import ConfigurationError, UnknownOptionError
from conveyor.redaction import redact_text
from conveyor.stores.base import Store

DEFAULT_URL = "sqlite:///conveyor.db"
ACCEPTED = "sqlite:///path/to/file.db, memory://, postgresql://user@host/db"


def resolve_url(url: str | None) -> str:
    """The URL given, else $CONVEYOR_URL, else the default SQLite file."""
    if url is not None and not (isinstance(url, str) and url.strip()):
        raise ConfigurationError(f"invalid store URL {url!r}; accepted: {ACCEPTED}")
    return url or os.environ.get("CONVEYOR_URL") or DEFAULT_URL


def check_options(url: str, options: dict[str, object], app_options: Sequence[str]) -> None:
    """A ConfigurationError naming an option neither the app nor the store ``url`` names
    takes (memory and SQLite take none; PostgreSQL's are its pool and schema settings)."""
    if not options:
        return
    taken: tuple[str, ...] = ()
    if url.split("://", 1)[0].lower() in ("postgresql", "postgres"):
        try:
            from conveyor.stores.postgres.connection import OPTIONS as taken
        except ImportError:  # no driver: open_store says so
            return
    unknown = [name for name in options if name not in taken]
    if unknown:
        raise UnknownOptionError(
            f"unknown option {unknown[0]!r}; accepted: {', '.join([*app_options, *taken])}"
        )


def check_store(store: Store) -> Store:
    """``store`` if it looks like a store object (``Conveyor(store=...)``), else a
    ConfigurationError saying what ``store=`` takes."""
    if not all(hasattr(store, name) for name in ("url", "migrate", "use_clock", "close")):
        raise ConfigurationError(
            f"store= takes a store object (one that passes conveyor.testing.conformance), "
            f"got {store!r}; give a URL as the first argument instead"
        )
    return store


def open_existing(url: str, **options: object) -> Store:
    """Open the store a URL names for reading, creating nothing: a store that does not
    exist yet (no SQLite file, no PostgreSQL tables) or has an older schema is opened as a
    missing one, whose every use raises :class:`~conveyor.errors.StoreMissing`."""
    shown = redact_text(url)
    advice = "start a worker or run `conveyor migrate` to create it"
    scheme = url.split("://", 1)[0].lower() if isinstance(url, str) else ""
    if scheme == "sqlite":
        from conveyor.stores.sqlite.connection import stored_version

        path = _sqlite_path(url)
        # Peeked at read-only first: opening a file that is no conveyor store would write
        # to it (switch it to WAL), and reading verbs write nothing.
        if not os.path.exists(path) or not stored_version(path):
            return _missing(url, f"no conveyor store at {shown} yet; {advice}", options)
    store = open_store(url, **options)
    if scheme == "memory":
        store.migrate()  # nothing outside this process to create or to read
        return store
    try:
        state = store.schema_state()
    except BaseException:
        store.close()
        raise
    if state == "current":
        return store
    store.close()
    if state == "missing":
        return _missing(url, f"no conveyor store at {shown} yet; {advice}", options)
    return _missing(url, f"the conveyor store at {shown} has an older schema; run "
                         "`conveyor migrate` (or start a worker) to upgrade it", options)


def _missing(url: str, message: str, options: dict[str, object]) -> Store:
    from conveyor.stores.missing import MissingStore

    store: Any = MissingStore(url, message, options)
    return store  # type: ignore[no-any-return]


def _sqlite_path(url: str) -> str:
    path = unquote(urlsplit(url).path)
    return path[1:] if path.startswith("/") else path  # sqlite:///rel, sqlite:////abs


def _make_folder(path: str) -> None:
    """Create the folder of a SQLite file that does not exist yet (zero setup:
    ``sqlite:///var/jobs.db`` works in a fresh checkout); should that fail, opening the
    file says why."""
    folder = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(folder):
        with contextlib.suppress(OSError):
            os.makedirs(folder, exist_ok=True)


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

        path = _sqlite_path(url)
        if "\x00" in path:
            raise ConfigurationError(f"invalid SQLite URL {url!r}: the path contains a NUL "
                                     "character")
        if not path or path == ":memory:":
            raise ConfigurationError(
                f"invalid SQLite URL {url!r}: give a file path, e.g. sqlite:///conveyor.db "
                "(relative) or sqlite:////var/lib/jobs.db (absolute); use memory:// for "
                "an in-memory store"
            )
        _make_folder(path)
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


__all__ = [
    "DEFAULT_URL", "Store", "check_options", "check_store", "open_existing", "open_store",
    "resolve_url",
]
