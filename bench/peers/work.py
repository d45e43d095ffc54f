"""The job every system runs: a sync function doing one small Redis round trip (an
RPUSH to 127.0.0.1:6379, db 0) that also records when it ran, so the harness reads
completions and latencies the same way for every system."""

from __future__ import annotations

import os
import threading
import time
from typing import Any

DONE = "peers:done"  # list of "<enqueued at> <ran at>" (epoch seconds)
HOST = os.environ.get("BENCH_REDIS", "127.0.0.1")
_local = threading.local()


def client(db: int = 0) -> Any:
    """This thread's Redis client (one connection per thread, kept)."""
    key = f"db{db}"
    found = getattr(_local, key, None)
    if found is None:
        import redis

        found = redis.Redis(host=HOST, port=6379, db=db)
        setattr(_local, key, found)
    return found


def work(t: float) -> None:
    """One Redis round trip: record (enqueued at ``t``, ran now)."""
    client().rpush(DONE, f"{t} {time.time()}")
