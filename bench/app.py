"""The app the benchmark's worker processes run: no-op jobs and a Redis round trip."""

from __future__ import annotations

import os
import threading
from typing import Any

from conveyor import Conveyor

app = Conveyor(os.environ.get("CONVEYOR_URL", "sqlite:///bench.db"))
_local = threading.local()


@app.job
async def noop() -> None:
    """Does nothing: measures conveyor's own overhead."""


@app.job
def noop_sync() -> None:
    """Does nothing, as a sync function (never on the event loop)."""


@app.job
def redis_sync() -> None:
    """One small Redis round trip (a PING), like an everyday job touching a service."""
    client: Any = getattr(_local, "client", None)
    if client is None:
        import redis  # the bench extra: pip install 'conveyor[bench]'

        client = _local.client = redis.Redis(host=os.environ.get("BENCH_REDIS", "127.0.0.1"))
    client.ping()


if __name__ == "__main__":
    from threadstats import name_os_threads  # (bench/ is this script's path)

    name_os_threads()  # for bench.py's CPU and switches by thread
    # Unset: the same defaults as `conveyor worker bench.app` without flags.
    options = {name: int(os.environ[f"BENCH_{name.upper()}"])
               for name in ("concurrency", "prefetch", "batch")
               if os.environ.get(f"BENCH_{name.upper()}")}
    app.run_worker(**options)
