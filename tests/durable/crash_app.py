"""The app a crash test's worker subprocess runs (see test_crash_points.py).

Every execution of a step appends its name to ``$CRASH_DIR/log``; a file
``$CRASH_DIR/block-<point>`` makes the run stop at that point (so the test can kill -9
the worker there): ``before-b`` (step b not started), ``after-b`` (b ran, result not
stored yet).
"""

from __future__ import annotations

import asyncio
import os
import time
from pathlib import Path
from typing import Any

from conveyor import Conveyor
from tests.durable import crash_log

app = Conveyor(os.environ["CRASH_URL"], lease=1.0)
DIR = Path(os.environ["CRASH_DIR"])


def mark(line: str) -> None:
    crash_log.mark(DIR, line)


def blocked(point: str) -> bool:
    if not (DIR / f"block-{point}").exists():
        return False
    mark(f"at-{point}")
    return True


def step(name: str) -> str:
    mark(name)
    while blocked(f"after-{name}"):
        time.sleep(3600)  # killed here: the step ran, its result is not stored
    return name.upper()


@app.job
async def crashy(payload: dict[str, Any], io: Any) -> list[str]:
    a = await io.task("a", step, "a")
    if blocked("before-b"):
        await asyncio.sleep(3600)  # killed here: step b has not started
    b = await io.task("b", step, "b")
    await io.wait("nap", payload.get("nap", 0), "seconds")
    c = await io.task("c", step, "c")
    return [a, b, c]


@app.job
async def long_run(payload: dict[str, Any], io: Any) -> list[str]:
    """Four steps and no wait: ``before-<step>`` blocks stop it with the earlier ones
    stored (each attempt killed there made progress)."""
    done = []
    for name in ("p", "q", "r", "s"):
        if blocked(f"before-{name}"):
            await asyncio.sleep(3600)  # killed here
        done.append(await io.task(name, step, name))
    return done
