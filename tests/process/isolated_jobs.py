"""Module-level functions for ``isolation="process"`` tests (a child imports them by name)."""

from __future__ import annotations

import os
import time
from typing import Any


def spin() -> None:
    while True:
        pass


def aborts() -> None:
    os.abort()


def pid_and_sum(a: int, b: int) -> dict[str, int]:
    return {"pid": os.getpid(), "sum": a + b}


async def async_double(n: int) -> int:
    return n * 2


def fails() -> None:
    raise ValueError("bad input in the child")


def sleeps(seconds: float) -> str:
    time.sleep(seconds)
    return "slept"


def triggers(n: int, meta: Any) -> list[int]:
    """Triggers other jobs from the child: by attribute and by id, now and later."""
    first = meta.jobs.add_one(n).run_now(priority="high")
    later = meta.jobs["add_one"](n + 1).run_in(1, "hour")
    return [first.id, later.id]


async def triggers_async(meta: Any) -> int:
    handle = await meta.jobs.add_one(1).run_now()
    return int(handle.id)


def triggers_badly(meta: Any) -> None:
    meta.jobs.add_one({1, 2}).run_now()  # a set: not JSON


def triggers_by_slug(meta: Any) -> int:
    """The job "send-email" by its attribute spelling (its slug), from the child."""
    return int(meta.jobs.send_email(1).run_now().id)


def triggers_unknown(meta: Any) -> None:
    meta.jobs.no_such_job(1).run_now()


def triggers_a_function(meta: Any) -> None:
    meta.jobs.add_one(lambda: 1).run_now()  # cannot be sent to the worker (pickled), nor stored


def add_one(n: int) -> int:
    return n + 1
