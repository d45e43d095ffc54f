"""The app the workflow crash tests run in worker processes (see test_workflow_crash.py).

``python -c "from tests.durable.workflow_crash_app import main; main()"`` runs a worker
on ``$CRASH_URL``. Every member execution appends its name to ``$CRASH_DIR/log`` (and
``end-<name>`` when it returns); a file ``$CRASH_DIR/block-in-<name>`` holds the members
of that name while it exists, ``$CRASH_DIR/fail-<name>`` makes them fail; a ``parent``'s
child named ``die`` kills its worker.
"""

from __future__ import annotations

import asyncio
import os
import signal
import time
from pathlib import Path
from typing import Any

from conveyor import Conveyor, Fail, JobFailed
from tests.durable import crash_log


def build(url: str, folder: Path) -> Conveyor:
    """The app on ``url`` with its jobs, marking executions in ``folder``."""
    app = Conveyor(url, lease=1.0)

    def mark(line: str) -> None:
        crash_log.mark(folder, line)

    @app.job
    async def piece(prev: Any, name: str) -> str:
        mark(name)
        if (folder / f"block-in-{name}").exists():
            mark(f"at-in-{name}")
            while (folder / f"block-in-{name}").exists():
                await asyncio.sleep(0.05)
        if (folder / f"fail-{name}").exists():
            raise Fail(f"{name} is broken")
        mark(f"end-{name}")
        return f"{prev}>{name}"

    @app.job
    def suicide(prev: Any, name: str, meta: Any) -> None:
        mark(name)
        parent = meta.job.parent_id
        # Once its parent waits: a parent running on the dying worker would be rescued too.
        for _ in range(200):
            if parent is None or app.get_job(parent).state == "waiting":  # type: ignore[union-attr]
                break
            time.sleep(0.05)
        os.kill(os.getpid(), signal.SIGKILL)

    @app.job
    async def parent(names: list[str], io: Any) -> list[str]:
        kids = [(suicide if n == "die" else piece)("p", name=n) for n in names]
        results: list[str] = await io.run_jobs("kids", kids)
        return results

    @app.job
    async def careful(names: list[str], io: Any) -> Any:
        async def kids() -> list[str]:
            results: list[str] = await io.run_jobs("kids", [piece("q", name=n) for n in names])
            return results

        def failed(exc: Exception) -> dict[str, Any]:
            assert isinstance(exc, JobFailed)
            return {"failed": exc.job_id, "state": exc.state}

        return await io.try_(kids, failed)

    return app


def main() -> None:
    app = build(os.environ["CRASH_URL"], Path(os.environ["CRASH_DIR"]))
    app.run_worker(concurrency=2, maintenance_interval=0.1, poll_interval=0.1)
    app.close()
