"""Connections to PostgreSQL: URL and options, the pool, clear errors, reconnecting."""

from __future__ import annotations

import functools
import logging
import math
import re
import threading
import time
from collections import deque
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl, quote, urlencode, urlsplit

import psycopg
from psycopg import errors as pg_errors
from psycopg.conninfo import conninfo_to_dict
from psycopg_pool import ConnectionPool, PoolTimeout

from conveyor.clock import Clock, epoch
from conveyor.errors import (
    SCHEMA_MISSING,
    ConfigurationError,
    StoreDataError,
    StoreError,
    StoreUnavailable,
    UniqueViolation,
    store_closed,
)
from conveyor.redaction import redact_text
from conveyor.stores.postgres.single import pooled

log = logging.getLogger("conveyor.postgres")

POOL_NAME = "conveyor"
OPTIONS = (
    "schema", "pool_size", "pool_timeout", "connect_timeout", "synchronous_commit",
    "synchronous_complete",
)
_SYNC_VALUES = ("on", "off", "local", "remote_write", "remote_apply")
_SCHEMA = re.compile(r"[a-z_][a-z0-9_]{0,49}")


def is_connection_error(exc: BaseException) -> bool:
    """The server is down, restarting, or ended our session (not a problem with a query)."""
    if isinstance(exc, PoolTimeout):
        return True
    if not isinstance(exc, (psycopg.OperationalError, psycopg.InterfaceError)):
        return False
    state = exc.sqlstate
    return state is None or state.startswith(("08", "57P"))


@dataclass(frozen=True, slots=True)
class Settings:
    """Where and how to connect, parsed once from the URL and options."""

    conninfo: str
    schema: str | None
    where: str  # host:port, for messages
    pool_size: int = 10
    pool_timeout: float = 10.0
    connect_timeout: float = 5.0
    synchronous_commit: str | None = None
    synchronous_complete: bool = False

    @classmethod
    def parse(cls, url: str, options: dict[str, Any]) -> Settings:
        unknown = sorted(set(options) - set(OPTIONS))
        if unknown:
            raise ConfigurationError(
                f"unknown PostgreSQL store option {unknown[0]!r}; accepted: {', '.join(OPTIONS)}"
            )
        try:
            parts = urlsplit(url)
        except ValueError as exc:  # e.g. "Invalid IPv6 URL"
            raise ConfigurationError(f"invalid PostgreSQL URL {url!r}: {exc}") from None
        query = parse_qsl(parts.query, keep_blank_values=True)
        options = dict(options)
        for name, value in query:  # ?schema=app1&pool_size=20 (keywords win)
            if name in OPTIONS:
                options.setdefault(name, value)
        schema = options.get("schema")
        if schema is not None and (not isinstance(schema, str) or not _SCHEMA.fullmatch(schema)):
            raise ConfigurationError(
                f"invalid PostgreSQL schema {schema!r}: use lower-case letters, digits and _ "
                "(at most 50, not starting with a digit), e.g. ?schema=app1"
            )
        kept = urlencode([(k, v) for k, v in query if k not in OPTIONS], quote_via=quote)
        # Not urlunsplit: it drops the "//" of a URL without a host (postgresql:///db?host=...).
        conninfo = f"postgresql://{parts.netloc}{parts.path}" + (f"?{kept}" if kept else "")
        _check_conninfo(url, conninfo)
        given = dict(query)  # libpq's ?host=...&port=... when the URL names no host
        host = parts.hostname or given.get("host") or "localhost"
        try:
            port = parts.port or given.get("port") or 5432
        except ValueError:
            raise ConfigurationError(f"invalid port in PostgreSQL URL {url!r}") from None
        return cls(
            conninfo=conninfo, schema=schema, where=f"{host}:{port}",
            pool_size=_positive_int("pool_size", options.get("pool_size", 10)),
            pool_timeout=_positive_float("pool_timeout", options.get("pool_timeout", 10.0)),
            connect_timeout=_positive_float("connect_timeout", options.get("connect_timeout", 5.0)),
            synchronous_commit=_sync_value(options.get("synchronous_commit")),
            synchronous_complete=_flag("synchronous_complete",
                                       options.get("synchronous_complete", False)),
        )

    def connect_kwargs(self) -> dict[str, Any]:
        kwargs: dict[str, Any] = {
            "autocommit": True, "connect_timeout": max(1, round(self.connect_timeout)),
        }
        settings = []
        if self.schema:
            settings.append(f"-c search_path={self.schema}")
        if self.synchronous_commit:
            settings.append(f"-c synchronous_commit={self.synchronous_commit}")
        if settings:  # keep options given in the URL (?options=...)
            given = conninfo_to_dict(self.conninfo).get("options")
            kwargs["options"] = " ".join([str(given)] * bool(given) + settings)
        return kwargs


def _check_conninfo(url: str, conninfo: str) -> None:
    """A parameter libpq does not know is the user's mistake, said before any connection."""
    try:
        conninfo_to_dict(conninfo)
    except psycopg.ProgrammingError as exc:
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise ConfigurationError(
            f"invalid PostgreSQL URL {redact_text(url)!r}: {reason}; accepted in its query: "
            f"conveyor's {', '.join(OPTIONS)} and libpq's connection parameters "
            "(sslmode, application_name, options, ...)"
        ) from None


def _flag(name: str, value: Any) -> bool:
    if isinstance(value, str) and value.lower() in ("on", "off", "true", "false", "1", "0"):
        return value.lower() in ("on", "true", "1")
    if not isinstance(value, bool):
        raise ConfigurationError(f"invalid {name} {value!r}: must be True or False")
    return value


def _sync_value(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, bool):
        value = "on" if value else "off"
    if value not in _SYNC_VALUES:
        raise ConfigurationError(
            f"invalid synchronous_commit {value!r}; accepted: {', '.join(_SYNC_VALUES)}"
        )
    return str(value)


def _positive_int(name: str, value: Any) -> int:
    if isinstance(value, str) and value.strip().isdigit():  # from the URL's query
        value = int(value)
    if not isinstance(value, int) or isinstance(value, bool) or value < 1:
        raise ConfigurationError(f"invalid {name} {value!r}: must be an int >= 1")
    return value


def _positive_float(name: str, value: Any) -> float:
    if isinstance(value, str):  # from the URL's query
        with suppress(ValueError):
            value = float(value)
    if (not isinstance(value, (int, float)) or isinstance(value, bool) or value <= 0
            or not math.isfinite(value)):
        raise ConfigurationError(
            f"invalid {name} {value!r}: must be a finite number of seconds > 0")
    return float(value)


def describe(where: str, exc: BaseException) -> str:
    """One line saying why PostgreSQL at ``where`` cannot be used."""
    text = str(exc).strip()
    lowered = text.lower()
    if isinstance(exc, PoolTimeout):
        return f"PostgreSQL at {where}: no connection available ({text})"
    if "connection refused" in lowered:
        reason = "connection refused"
    elif "timeout" in lowered or "timed out" in lowered:
        reason = "connection timed out"
    elif "terminating connection" in lowered or "server closed the connection" in lowered:
        reason = "the server closed the connection"
    elif "the database system is" in lowered:  # starting up / shutting down / in recovery
        reason = "the database system is " + lowered.split("the database system is", 1)[1]
    else:
        lines = [line for line in text.splitlines() if line.strip()]
        reason = lines[0] if lines else type(exc).__name__
        reason = re.sub(r"^connection failed: connection to server at [^:]*failed: ", "", reason)
    return f"cannot reach PostgreSQL at {where}: {reason.strip().rstrip('.')}"


class Database:
    """A connection pool that turns connection failures into :class:`StoreError`.

    After a failure the next call first probes the server with a direct connection, so
    callers get a quick, clear error while it is down and a working pool once it is back.
    """

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._lock = threading.Lock()
        self._pool: ConnectionPool[psycopg.Connection[Any]] | None = None
        self._suspect = True  # probe before the first use: fail fast, with one clear line
        self._failed = False  # a connection failed since the last successful probe
        self._closed = False
        self.clock: Clock | None = None  # given: every statement's conveyor_now()
        self._clock_passed = False

    def connect(self) -> psycopg.Connection[Any]:
        """A new connection outside the pool (migrations, LISTEN). The first one, before
        the pool (opening an app migrates first), is also the first use's probe."""
        try:
            conn = psycopg.connect(self.settings.conninfo, **self.settings.connect_kwargs())
        except psycopg.Error as exc:
            raise StoreError(describe(self.settings.where, exc)) from None
        if self._pool is None and not self._failed:
            self._suspect = False
        return conn

    def pool(self) -> ConnectionPool[psycopg.Connection[Any]]:
        with self._lock:
            if self._closed:
                raise store_closed("PostgreSQL")
            if self._pool is None:
                self._pool = LifoPool(
                    self.settings.conninfo, kwargs=self.settings.connect_kwargs(),
                    min_size=1, max_size=self.settings.pool_size,
                    timeout=self.settings.pool_timeout,
                    # Retry for a short while only, so a restarted server is found again
                    # within seconds (each new request starts a fresh attempt).
                    reconnect_timeout=2.0, reconnect_failed=_quiet,
                    name=POOL_NAME, open=True,
                    # may take the prepared single insert (single.py)
                    configure=functools.partial(pooled, schema=self.settings.schema),
                )
            return self._pool

    @contextmanager
    def connection(self) -> Iterator[psycopg.Connection[Any]]:
        """A pooled autocommit connection; failures surface as StoreError."""
        if self._suspect:
            self._probe()
            if self._pool is not None:
                self._pool.check()  # drop the other idle connections the failure broke
        pool = self.pool()
        try:
            with pool.connection() as conn:
                if self.clock is not None:
                    self._clock_passed = True
                    pass_clock(conn, self.clock, local=False)
                elif self._clock_passed:  # a clock was removed: its setting stays per session
                    conn.execute(RESET_CLOCK)
                yield conn
        except (psycopg.Error, PoolTimeout) as exc:
            if not is_connection_error(exc):
                raise classify(self.settings.where, exc) from exc
            self._suspect = self._failed = True
            if isinstance(exc, PoolTimeout):
                self._probe()
            raise StoreUnavailable(describe(self.settings.where, exc)) from None

    def _probe(self) -> None:
        started = time.monotonic()
        try:
            self.connect().close()  # raises StoreError while the server is unreachable
        except StoreError:
            self._failed = True
            raise
        self._suspect = False
        if self._failed:  # not on a normal start: only after a failure
            self._failed = False
            log.info("PostgreSQL at %s is reachable again (probe took %.0f ms)",
                     self.settings.where, (time.monotonic() - started) * 1000)

    def close(self) -> None:
        with self._lock:
            self._closed = True
            pool, self._pool = self._pool, None
        if pool is not None:
            pool.close()


def classify(where: str, exc: BaseException) -> BaseException:
    """conveyor's own exception for a driver error that is not a lost connection (nothing
    psycopg leaves the store); deadlocks stay as they are for retry_conflicts."""
    if isinstance(exc, (pg_errors.DeadlockDetected, pg_errors.SerializationFailure)):
        return exc
    if isinstance(exc, pg_errors.UniqueViolation):
        return UniqueViolation(str(exc).strip())
    if isinstance(exc, psycopg.DataError):
        return StoreDataError(str(exc).strip())
    if isinstance(exc, (pg_errors.UndefinedTable, pg_errors.UndefinedFunction)) and (
            "conveyor_" in str(exc)):  # its tables, or its functions (conveyor_now())
        first = str(exc).strip().splitlines()[0]
        return StoreError(f"cannot use PostgreSQL at {where}: {first}; {SCHEMA_MISSING}")
    if isinstance(exc, psycopg.OperationalError):  # lock or statement timeout, cancelled
        return StoreUnavailable(f"PostgreSQL at {where}: {str(exc).strip()}")
    return exc  # a bug in conveyor (syntax): keep the driver's message


# conveyor_now() reads an empty setting as "the database clock".
RESET_CLOCK = "SELECT set_config('conveyor.now', '', false)"


def pass_clock(conn: psycopg.Connection[Any], clock: Clock, local: bool) -> None:
    """Make ``conveyor_now()`` on ``conn`` read ``clock`` (for the transaction if local)."""
    conn.execute("SELECT set_config('conveyor.now', %s, %s)", (repr(epoch(clock)), local))


class LifoPool(ConnectionPool[psycopg.Connection[Any]]):
    """psycopg_pool's pool, handing out the idle connection returned last. Its own order
    is first in, first out: a worker's statements went round every connection it had
    ever opened (three or so), and each backend kept its own caches and mapped the shared
    buffers warm (PostgreSQL no-op jobs: 76 → 55 µs of server CPU a job). The rest of the
    pool (growing, checks, idle connections closed after ``max_idle``) is unchanged."""

    # (psycopg_pool's private names, 3.2-3.3: should they change, the order is FIFO
    # again, tests/postgres/test_pool_order.py fails, and nothing else breaks)
    def _get_ready_connection(self, *args: Any, **kwargs: Any) -> Any:
        idle = getattr(self, "_pool", None)  # (called under the pool's lock)
        if isinstance(idle, deque) and len(idle) > 1:
            idle.rotate(1)  # the last one returned (appended) is taken first
        return super()._get_ready_connection(*args, **kwargs)


def _quiet(pool: object) -> None:
    """The pool gave up one reconnection attempt; the next request starts another."""


class _PoolNoise(logging.Filter):
    """Drop psycopg_pool's multi-line reconnection warnings for conveyor's own pools: while
    the server is down, the worker already logs one line per retry from StoreError."""

    def filter(self, record: logging.LogRecord) -> bool:
        args = record.args if isinstance(record.args, tuple) else ()
        noisy = str(record.msg).startswith(("error connecting in", "reconnection attempt"))
        return not (noisy and args and args[0] == POOL_NAME)


logging.getLogger("psycopg.pool").addFilter(_PoolNoise())
