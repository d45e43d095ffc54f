"""The app the crash tests run in worker processes (loaded from this file by
``tests.process.helpers.spawn_worker``). Executions go to the process tests' ledger;
durable steps to ``$CONVEYOR_TEST_LEDGER-steps.<pid>``. A worker started with
``$CONVEYOR_TEST_HANG`` set hangs in each job that ``hang()``s (a victim to kill -9)."""

from __future__ import annotations

import asyncio
import os
import time
from typing import Any

from conveyor import Conveyor
from tests.process.app import note

app = Conveyor(os.environ["CONVEYOR_URL"], lease=float(os.environ.get("CONVEYOR_TEST_LEASE", 1)))


def hangs() -> bool:
    return bool(os.environ.get("CONVEYOR_TEST_HANG"))


def note_step(run_id: int, key: str, event: str) -> None:
    with open(f"{os.environ['CONVEYOR_TEST_LEDGER']}-steps.{os.getpid()}", "a") as ledger:
        ledger.write(f"{run_id} {key} {event}\n")


@app.job(retry=3)
def sync_hang(meta: Any) -> str:
    note("start", meta.id, meta.attempt)
    if hangs():
        time.sleep(120)
    note("end", meta.id, meta.attempt)
    return "sync survived"


@app.job(retry=3)
async def async_hang(meta: Any) -> str:
    note("start", meta.id, meta.attempt)
    if hangs():
        await asyncio.sleep(120)
    note("end", meta.id, meta.attempt)
    return "async survived"


def step(run_id: int, key: str, value: Any) -> Any:
    note_step(run_id, key, "start")
    if key == "two" and hangs():
        time.sleep(120)
    note_step(run_id, key, "end")
    return value


@app.job(retry=3)
async def durable_hang(payload: Any, io: Any, ctx: Any) -> list[Any]:
    one = await io.task("one", step, ctx.run_id, "one", {"odd": [None, -0.0, ""]})
    two = await io.task("two", step, ctx.run_id, "two", [])
    three = await io.task("three", step, ctx.run_id, "three", 3)
    return [one, two, three]


@app.job
def burst_target(n: int, meta: Any) -> int:
    note("start", meta.id, meta.attempt)
    note("end", meta.id, meta.attempt)
    return n


@app.job(retry=3)
async def parent_of_hang(payload: Any, io: Any, ctx: Any) -> list[Any]:
    before = await io.task("before", step, ctx.run_id, "before", "b")
    child = await io.run_job("child", sync_hang())
    return [before, child]
