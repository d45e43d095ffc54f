"""An idle worker for bench/bench_idle.py: counts its store calls by method (every public
method of the store's class) and dumps the counts to $IDLE_COUNTS/<pid>.json every 0.25 s."""

from __future__ import annotations

import collections
import functools
import inspect
import json
import os
import threading
import time
from collections.abc import Callable
from typing import Any

from conveyor import Conveyor

app = Conveyor(os.environ["CONVEYOR_URL"])
counts: collections.Counter[str] = collections.Counter()
SKIP = ("clone", "close", "open_waiter")


def counted(name: str, fn: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(fn)
    def call(*args: Any, **kwargs: Any) -> Any:
        counts[name] += 1
        return fn(*args, **kwargs)
    return call


cls = type(app.store)
for name, member in inspect.getmembers(cls, inspect.isfunction):
    if not name.startswith("_") and name not in SKIP:
        setattr(cls, name, counted(name, member))


def dump() -> None:
    path = os.path.join(os.environ["IDLE_COUNTS"], f"{os.getpid()}.json")
    while True:
        with open(path + ".tmp", "w") as f:
            json.dump(dict(counts), f)
        os.replace(path + ".tmp", path)
        time.sleep(0.25)


@app.job
def noop() -> None: ...


threading.Thread(target=dump, daemon=True).start()
app.run_worker(concurrency=4)
