"""LISTEN/NOTIFY wake-ups for the PostgreSQL store."""

from __future__ import annotations

import logging
import time
from typing import TYPE_CHECKING, Any

import psycopg
from psycopg import sql

from conveyor.errors import StoreError
from conveyor.stores.postgres.connection import is_connection_error

if TYPE_CHECKING:
    from conveyor.stores.postgres.connection import Database

log = logging.getLogger("conveyor.postgres")


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
        self._connect()

    def _connect(self) -> None:
        conn = self.db.connect()
        try:
            conn.execute(sql.SQL("LISTEN {}").format(sql.Identifier(self.channel)))
        except BaseException:
            conn.close()
            raise
        self.conn = conn
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
            return True
        try:
            for _ in self.conn.notifies(timeout=timeout, stop_after=1):
                return True
            return False
        except psycopg.Error as exc:
            if not is_connection_error(exc):
                raise
            log.info("LISTEN connection lost (%s); reconnecting", str(exc).strip())
            self._drop()
            return True

    def _drop(self) -> None:
        conn, self.conn = self.conn, None
        if conn is not None:
            conn.close()

    def close(self) -> None:
        self._drop()
