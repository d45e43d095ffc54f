"""Opening SQLite files safely: WAL, busy timeouts, clear errors, migrations."""

from __future__ import annotations

import os
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from types import TracebackType
from urllib.parse import quote

from conveyor.errors import (
    SCHEMA_MISSING,
    StoreBusy,
    StoreDataError,
    StoreError,
    UniqueViolation,
    store_closed,
)
from conveyor.stores.sqlite.schema import available, statements

# Well below the default lease (30 s): a wait for another process's write lock gives up
# after it with StoreBusy, so the callers retry between waits and a worker's heartbeat
# (same connection) gets its turn; the lock wait is logged, never mistaken for a dead worker.
BUSY_TIMEOUT = 5.0

# Waits between tries for the write lock: SQLite's own busy handler sleeps 1 ms, then 2,
# 5, 10... while another process's transaction holds the lock for a fraction of a
# millisecond, so two busy workers would spend most of their time asleep.
LOCK_NAPS = (0.0001, 0.0002, 0.0005, 0.001, 0.002)


#: SQL function lower-casing text as Python does (SQLite's lower() folds ASCII only).
LOWER = "conveyor_lower"


def _lower(value: str | bytes | int | float | None) -> str | bytes | int | float | None:
    return value.lower() if isinstance(value, str) else value


def connect(path: str, *, uri: bool = False) -> sqlite3.Connection:
    """A connection in autocommit mode (transactions are explicit BEGIN IMMEDIATE)."""
    try:
        conn = sqlite3.connect(
            path, timeout=BUSY_TIMEOUT, isolation_level=None, check_same_thread=False, uri=uri
        )
        conn.execute(f"PRAGMA busy_timeout = {int(BUSY_TIMEOUT * 1000)}")
        conn.create_function(LOWER, 1, _lower, deterministic=True)
        _retry_busy(lambda: conn.execute("PRAGMA journal_mode = WAL"))
        conn.execute("PRAGMA synchronous = NORMAL")
        conn.execute("PRAGMA foreign_keys = OFF")
        conn.execute("PRAGMA temp_store = MEMORY")
        conn.execute("PRAGMA cache_size = -32000")
        conn.execute("PRAGMA mmap_size = 268435456")
        # Fewer, larger checkpoints: each one is paid by whichever commit triggers it.
        conn.execute("PRAGMA wal_autocheckpoint = 4000")
    except sqlite3.DatabaseError as exc:
        raise StoreError(describe(path, exc)) from None
    return conn


def stored_version(path: str) -> int:
    """The conveyor schema version (``user_version``) of the SQLite file at ``path``, 0
    when it holds no conveyor_jobs table, read through a read-only connection: unlike
    :func:`connect` it switches nothing to WAL, so a file that is not a conveyor store
    (another program's database, which may keep a user_version of its own; an empty
    file) is left as it was."""
    try:
        conn = sqlite3.connect(f"file:{quote(os.path.abspath(path))}?mode=ro", uri=True,
                               timeout=BUSY_TIMEOUT)
        try:
            (version,) = conn.execute("PRAGMA user_version").fetchone()
            if not conn.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' "
                                "AND name = 'conveyor_jobs'").fetchone():
                version = 0
        finally:
            conn.close()
    except sqlite3.DatabaseError as exc:
        raise StoreError(describe(path, exc)) from None
    return int(version)


def _retry_busy(fn: Callable[[], object]) -> None:
    """Run ``fn`` again after short naps while another connection holds the lock it
    needs; its error once BUSY_TIMEOUT has passed (or at once when it is another)."""
    deadline, tries = time.monotonic() + BUSY_TIMEOUT, 0
    while True:
        try:
            fn()
            return
        except sqlite3.OperationalError as exc:
            if not _is_busy(exc) or time.monotonic() > deadline:
                raise
        time.sleep(LOCK_NAPS[min(tries, len(LOCK_NAPS) - 1)])
        tries += 1


def describe(path: str, exc: BaseException, action: str = "open") -> str:
    text = str(exc)
    if "not a database" in text or "malformed" in text:
        return f"cannot {action} SQLite database {path!r}: the file is corrupt or not a database"
    if "locked" in text or "busy" in text:
        return f"cannot {action} SQLite database {path!r}: it is locked by another process"
    if "unable to open" in text:
        folder = os.path.dirname(os.path.abspath(path))
        if not os.path.isdir(folder):
            return (f"cannot {action} SQLite database {path!r}: its folder {folder!r} does "
                    "not exist (create it first)")
        return f"cannot {action} SQLite database {path!r}: the file or its folder is not writable"
    if "no such table" in text:
        return f"cannot {action} SQLite database {path!r}: {text}; {SCHEMA_MISSING}"
    return f"cannot {action} SQLite database {path!r}: {text}"


def migrate(conn: sqlite3.Connection, path: str, upto: int | None = None) -> list[str]:
    """Apply pending migrations (of the first ``upto`` files only, if given) under one
    write lock; safe when processes race. ``user_version`` = the last applied file's number."""
    files = available()[:upto]
    target = files[-1][0] if files else 0
    try:
        (version,) = conn.execute("PRAGMA user_version").fetchone()
        if version >= target:
            return []
        conn.execute("BEGIN IMMEDIATE")
        try:
            (version,) = conn.execute("PRAGMA user_version").fetchone()
            applied = []
            for number, name, text in files:
                if version < number <= target:
                    for statement in statements(text):
                        conn.execute(statement)
                    conn.execute(f"PRAGMA user_version = {number}")
                    applied.append(name)
            conn.execute("COMMIT")
            return applied
        except BaseException:
            conn.execute("ROLLBACK")
            raise
    except sqlite3.DatabaseError as exc:
        raise StoreError(describe(path, exc)) from None


def begin_immediate(conn: sqlite3.Connection) -> None:
    """BEGIN IMMEDIATE, retried with short naps while another connection holds the write
    lock (the connection's busy timeout must be 0: :meth:`Locked.transaction`); StoreBusy
    after BUSY_TIMEOUT."""
    try:
        _retry_busy(lambda: conn.execute("BEGIN IMMEDIATE"))
    except sqlite3.OperationalError as exc:
        if _is_busy(exc):
            raise busy(conn, exc) from None
        raise classify(conn, exc) from exc


def _is_busy(exc: sqlite3.Error) -> bool:
    return "locked" in str(exc) or "busy" in str(exc)


class Locked:
    """One connection used by several threads, one statement group at a time."""

    def __init__(self, conn: sqlite3.Connection, kind: str = "SQLite") -> None:
        self.conn = conn
        self.kind = kind  # in the error once closed: "SQLite", "memory"
        self.lock = threading.RLock()
        self.closed = False
        # The connection's busy timeout is BUSY_TIMEOUT (statements outside a transaction
        # wait for the write lock); False: 0, as the last transaction left it. Set each
        # way only when it changes: a worker's transactions come back to back, and every
        # statement is a moment its thread gives up the GIL.
        self.patient = True

    def be_patient(self) -> None:
        """Statements outside a transaction wait up to BUSY_TIMEOUT for the write lock
        (call under the lock)."""
        if not self.patient:
            self.conn.execute(f"PRAGMA busy_timeout = {int(BUSY_TIMEOUT * 1000)}")
            self.patient = True

    def close(self) -> None:
        with self.lock:
            self.conn.close()
            self.closed = True

    def _check_open(self) -> None:
        if self.closed:
            raise store_closed(self.kind)

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        with self.lock:
            self._check_open()
            if self.patient:  # BEGIN IMMEDIATE fails at once, to be retried with naps
                self.conn.execute("PRAGMA busy_timeout = 0")
                self.patient = False
            begin_immediate(self.conn)
            try:
                yield self.conn
            except BaseException as exc:
                self.conn.execute("ROLLBACK")
                if isinstance(exc, sqlite3.Error):
                    raise classify(self.conn, exc) from exc
                raise
            try:
                self.conn.execute("COMMIT")
            except sqlite3.Error as exc:  # nothing committed: never leave it open
                with suppress(sqlite3.Error):
                    self.conn.execute("ROLLBACK")
                raise classify(self.conn, exc) from exc

    def reading(self) -> _Holding:
        """The connection, under the lock, for statements outside a transaction (each
        autocommits)."""
        return _Holding(self)


class _Holding:
    """``Locked.reading()``: a plain class, not a generator (it is on every trigger's path)."""

    __slots__ = ("db",)

    def __init__(self, db: Locked) -> None:
        self.db = db

    def __enter__(self) -> sqlite3.Connection:
        db = self.db
        db.lock.acquire()
        if db.closed:
            db.lock.release()
            db._check_open()
        if not db.patient:
            try:
                db.be_patient()
            except BaseException:
                db.lock.release()
                raise
        return db.conn

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        try:
            if isinstance(exc, sqlite3.Error):  # classified under the lock (it may query)
                raise classify(self.db.conn, exc) from exc
        finally:
            self.db.lock.release()


def classify(conn: sqlite3.Connection, exc: sqlite3.Error) -> Exception:
    """conveyor's own exception for a driver error (nothing sqlite3 leaves the store)."""
    if isinstance(exc, sqlite3.IntegrityError) and "UNIQUE" in str(exc):
        return UniqueViolation(str(exc))
    if isinstance(exc, (sqlite3.DataError, sqlite3.IntegrityError)):
        return StoreDataError(str(exc))
    if "malformed JSON" in str(exc):  # a stored value is not JSON (not a corrupt file)
        return StoreDataError(f"a stored value is not JSON ({exc})")
    if isinstance(exc, sqlite3.OperationalError) and _is_busy(exc):
        return busy(conn, exc)
    if isinstance(exc, (sqlite3.InterfaceError, sqlite3.ProgrammingError)):
        return exc  # a bug in conveyor: keep the driver's own message
    return StoreError(describe(_path(conn), exc, "use"))


def busy(conn: sqlite3.Connection, exc: sqlite3.Error) -> StoreBusy:
    """The write lock stayed taken for the whole busy timeout (the transaction rolled back)."""
    path = _path(conn)
    return StoreBusy(describe(path, exc, "write to"),
                     f"waiting for the SQLite write lock on {path!r} (another process holds it)",
                     BUSY_TIMEOUT)


def _path(conn: sqlite3.Connection) -> str:
    try:
        return str(conn.execute("PRAGMA database_list").fetchone()[2])
    except sqlite3.Error:
        return "?"
