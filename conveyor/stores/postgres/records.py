"""LISTEN/NOTIFY wake-ups for the PostgreSQL store.

An insert notifies only while a worker waits for work (``conveyor_listeners``, migration
0023): the notify lock PostgreSQL takes for it makes every inserting commit of the server
wait for the one before. A waiter registers its connection as it starts waiting, then
looks for work again (it returns True) and once more after the transactions inserting
at that moment have ended (an insert that looked before the registration did not
notify); a worker busy for a while unregisters (:meth:`ListenWaiter.rest`).
"""

from __future__ import annotations

import logging
import time
from contextlib import suppress
from typing import TYPE_CHECKING, Any

import psycopg
from psycopg import sql

from conveyor.errors import StoreError
from conveyor.stores.postgres.connection import is_connection_error

if TYPE_CHECKING:
    from conveyor.stores.postgres.connection import Database

log = logging.getLogger("conveyor.postgres")

LISTEN = b"SELECT conveyor_listen()"
INSERTING = b"SELECT conveyor_inserting()"
UNLISTEN = b"DELETE FROM conveyor_listeners WHERE pid = pg_backend_pid()"
FIRST_LOOK = 0.001  # seconds before the first look at the inserts a registration waits for
# At most this long between looks (doubling from FIRST_LOOK): each reads pg_locks (every
# lock partition), so a long transaction that inserted before the registration costs an
# idle worker ten reads a second, not a hundred, until it ends.
LOOK_EVERY = 0.1


class ListenWaiter:
    """Wakes when a job is stored anywhere (``LISTEN conveyor_<schema>``).

    It only makes workers faster: when the listening connection drops it reconnects on
    the next wait, reporting a wake-up (notifications may have been missed meanwhile).
    """

    precise = True  # NOTIFY only when jobs are stored or become ready

    def __init__(self, db: Database, channel: str) -> None:
        self.db = db
        self.channel = channel
        self.conn: psycopg.Connection[Any] | None = None
        self.backoff = 0.1
        self.retry_at = 0.0  # monotonic time of the next reconnection attempt
        self.registered = False
        # Inserts that may have looked for a registration before this one's: look for
        # work again once they have ended (None: none left).
        self.pending: set[str] | None = None
        self.look_in = FIRST_LOOK
        self._connect()

    def _connect(self) -> None:
        conn = self.db.connect()
        try:
            conn.execute(sql.SQL("LISTEN {}").format(sql.Identifier(self.channel)))
        except BaseException:
            conn.close()
            raise
        self.conn = conn
        self.registered = False
        self.backoff = 0.1

    @property
    def listening(self) -> bool:
        """False while the LISTEN connection is down (the worker then polls faster)."""
        return self.conn is not None

    def wait(self, timeout: float) -> bool:
        if self.conn is None:
            # Reconnect with a growing backoff, however short the waits asked for are.
            left = self.retry_at - time.monotonic()
            if left > 0:
                time.sleep(min(timeout, left))
                return False
            try:
                self._connect()
            except StoreError as exc:
                log.debug("LISTEN connection unavailable: %s", exc)
                self.retry_at = time.monotonic() + self.backoff
                self.backoff = min(self.backoff * 2, 5.0)
                return False
        conn = self.conn
        assert conn is not None
        try:
            if not self.registered:
                self._register(conn)
                return True  # jobs stored before it registered notified nobody: look
            if self.pending is not None:
                return self._wait_pending(conn, timeout)
            return self._notified(conn, timeout)
        except psycopg.Error as exc:
            if not is_connection_error(exc):
                raise
            log.info("LISTEN connection lost (%s); reconnecting", str(exc).strip())
            self._drop()
            return True

    def _register(self, conn: psycopg.Connection[Any]) -> None:
        conn.execute(LISTEN)
        self.registered = True
        self.pending = self._inserting(conn) or None
        self.look_in = FIRST_LOOK

    def _wait_pending(self, conn: psycopg.Connection[Any], timeout: float) -> bool:
        """Wait (a short while) for a notification, then see whether the inserts the
        registration waits for have ended: True (look for work) once they have."""
        if self._notified(conn, min(timeout, self.look_in)):
            return True
        assert self.pending is not None
        self.pending &= self._inserting(conn)
        if self.pending:
            self.look_in = min(self.look_in * 2, LOOK_EVERY)
            return False
        self.pending = None
        return True

    def _inserting(self, conn: psycopg.Connection[Any]) -> set[str]:
        row = conn.execute(INSERTING).fetchone()
        return set(row[0]) if row and row[0] else set()

    def _notified(self, conn: psycopg.Connection[Any], timeout: float) -> bool:
        for _ in conn.notifies(timeout=timeout, stop_after=1):
            return True
        return False

    def rest(self) -> None:
        """The worker is busy: inserts need not notify it until it waits again."""
        if self.conn is None or not self.registered:
            return
        self.registered, self.pending = False, None
        try:
            self.conn.execute(UNLISTEN)
        except psycopg.Error as exc:
            if not is_connection_error(exc):
                raise
            self._drop()

    def _drop(self) -> None:
        conn, self.conn = self.conn, None
        self.registered, self.pending = False, None
        if conn is not None:
            conn.close()

    def close(self) -> None:
        with suppress(psycopg.Error):
            self.rest()  # else its registration stays until another one's removes it
        self._drop()
