"""The app flow-control process tests run in worker processes (see tests/process/app.py
for the ledger its jobs write)."""

from __future__ import annotations

import os
from typing import Any

from conveyor import Conveyor
from tests.process.app import run_noted

app = Conveyor(os.environ["CONVEYOR_URL"], lease=float(os.environ.get("CONVEYOR_TEST_LEASE", "2")))
app.queue("held")


@app.job(concurrency=3)
def limited(seconds: float, meta: Any) -> None:
    run_noted(meta, seconds)


@app.job(rate="50/second")
def rated(meta: Any) -> None:
    run_noted(meta)


@app.job(queue="held")
def in_held_queue(meta: Any) -> None:
    run_noted(meta)
