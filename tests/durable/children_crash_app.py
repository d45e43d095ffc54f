"""The app a child-run crash test's worker subprocess runs (see test_children_crash.py).

Every child execution appends ``child-<i>`` to ``$CRASH_DIR/log``. ``block-between``
stops a parent between storing its children and recording its step (the test kills the
worker there); ``block-child`` stops every child while it runs.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from conveyor import Conveyor
from conveyor.stores.base import StepRow
from tests.durable import crash_log

app = Conveyor(os.environ["CRASH_URL"], lease=1.0)
DIR = Path(os.environ["CRASH_DIR"])


def mark(line: str) -> None:
    crash_log.mark(DIR, line)


def hold(point: str) -> None:
    crash_log.hold(DIR, point)


@app.job
def child(i: int) -> int:
    mark(f"child-{i}")
    hold("child")
    return i * 10


@app.job
async def parent(n: int, io: Any) -> list[int]:
    results: list[int] = await io.run_jobs("kids", [child(i) for i in range(n)])
    return results


_await_children = app.store.await_children


def _between(token: int, step: StepRow, version: str | None) -> float | None:
    hold("between")  # the children are stored; the step is not
    return _await_children(token, step, version)


app.store.await_children = _between  # type: ignore[method-assign]
