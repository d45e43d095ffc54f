"""Sign-in sessions and the failed-sign-in throttle.

A session cookie is ``<id>.<expires>.<mac>``: a random id, its expiry (Unix seconds) and
an HMAC of both under the server's secret, so it cannot be forged or extended. Logout
revokes the id: it is kept in a revocation set until it would have expired anyway.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import threading
import time
from collections import OrderedDict, deque
from collections.abc import Callable

DEFAULT_SESSION_LIFETIME = 12 * 3600.0  # seconds a sign-in lasts
MAX_FAILURES = 10  # failed sign-ins (or wrong bearer tokens) per client...
FAILURE_WINDOW = 300.0  # ...within this many seconds, before it must wait
MAX_CLIENTS = 10_000  # clients the throttle remembers (the oldest are forgotten)


class Sessions:
    """Issues, checks and revokes signed session cookie values."""

    def __init__(self, secret: bytes, lifetime: float = DEFAULT_SESSION_LIFETIME,
                 clock: Callable[[], float] = time.time) -> None:
        self.secret = secret
        self.lifetime = lifetime
        self.clock = clock
        self._revoked: dict[str, float] = {}
        self._lock = threading.Lock()

    def _mac(self, session_id: str, expires: int) -> str:
        message = f"session\x1f{session_id}\x1f{expires}".encode()
        return hmac.new(self.secret, message, hashlib.sha256).hexdigest()

    def issue(self) -> str:
        """A new cookie value, valid for :attr:`lifetime` seconds."""
        session_id = secrets.token_urlsafe(18)
        expires = int(self.clock() + self.lifetime)
        return f"{session_id}.{expires}.{self._mac(session_id, expires)}"

    def _parse(self, value: str) -> tuple[str, int] | None:
        parts = value.split(".")
        if len(parts) != 3 or not parts[1].isdigit() or len(parts[1]) > 12:
            return None
        session_id, expires = parts[0], int(parts[1])
        if not hmac.compare_digest(parts[2].encode(), self._mac(session_id, expires).encode()):
            return None
        return session_id, expires

    def valid(self, value: str) -> bool:
        """Signed by this server, not expired and not revoked."""
        parsed = self._parse(value)
        if parsed is None:
            return False
        session_id, expires = parsed
        return expires > self.clock() and session_id not in self._revoked

    def revoke(self, value: str) -> None:
        """Log this session out for good (until it would have expired)."""
        parsed = self._parse(value)
        if parsed is None:
            return
        now = self.clock()
        with self._lock:
            self._revoked = {k: v for k, v in self._revoked.items() if v > now}
            self._revoked[parsed[0]] = parsed[1]


class Throttle:
    """Counts failures per client; a client with too many recent ones must wait."""

    def __init__(self, limit: int = MAX_FAILURES, window: float = FAILURE_WINDOW,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.limit = limit
        self.window = window
        self.clock = clock
        self._failures: OrderedDict[str, deque[float]] = OrderedDict()
        self._lock = threading.Lock()

    def wait(self, client: str) -> float:
        """Seconds ``client`` must wait before trying again (0: it may try now)."""
        with self._lock:
            if client not in self._failures:
                return 0.0
            times = self._recent(client)
            if len(times) < self.limit:
                return 0.0
            return max(1.0, times[0] + self.window - self.clock())

    def failed(self, client: str) -> None:
        with self._lock:
            self._recent(client).append(self.clock())
            self._failures.move_to_end(client)
            while len(self._failures) > MAX_CLIENTS:
                self._failures.popitem(last=False)

    def _recent(self, client: str) -> deque[float]:
        times = self._failures.setdefault(client, deque())
        cutoff = self.clock() - self.window
        while times and times[0] <= cutoff:
            times.popleft()
        return times


__all__ = ["DEFAULT_SESSION_LIFETIME", "Sessions", "Throttle"]
