"""Module-level functions for ``isolation="process"`` tests (a child imports them by name)."""

from __future__ import annotations

import os
import time


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
