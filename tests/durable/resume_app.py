"""The app the crash-and-resume tests run in worker processes (see test_crash_resume.py).

``python -c "from tests.durable.resume_app import main; main()"`` runs a worker on
``$CRASH_URL``: a long-lived one, or with ``$CRASH_AT`` (ISO time) a burst worker whose
clock is a ``FakeClock`` standing at that time (days later, without sleeping).
``$CRASH_GRACE`` is a live worker's grace period on SIGTERM.

Every step execution appends its name to ``$CRASH_DIR/log``; a file
``$CRASH_DIR/block-<point>`` holds a run at that point until it is removed (the test
kills the worker there). ``$CRASH_CODE`` picks the code of ``evolving``, as a redeploy
would: ``v1`` (steps a, b, c); ``changed`` (a, x, c under the same version); ``v2``
(version 2.0.0 with a, x, c) and ``v2+v1`` (v2 with v1 kept by ``app.job_version``).
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any

from conveyor import Conveyor, Retry
from conveyor.testing import FakeClock
from tests.durable import crash_log

#: A step result that must come back from the store as it went in.
VALUE: dict[str, Any] = {
    "text": "naïve café ☃ 𝄞 \u2028 日本語", "big": 2**70, "negative": -(2**64),
    "float": 1e20, "tiny": 5e-324, "pi": 3.141592653589793, "none": None, "yes": True,
    "nested": [[{"deep": [None, {"x": ""}]}], [], {}], "z": 1, "a": 2,
}


def build(url: str, folder: Path, code: str = "v1") -> Conveyor:
    """The app on ``url`` with its jobs, marking executions in ``folder``."""
    app = Conveyor(url, lease=1.0)

    def mark(line: str) -> None:
        crash_log.mark(folder, line)

    async def pause(point: str) -> None:
        """``crash_log.hold`` without blocking the event loop."""
        if crash_log.blocked(folder, point):
            mark(f"at-{point}")
            while crash_log.blocked(folder, point):
                await asyncio.sleep(0.05)

    def step(name: str, value: Any = None) -> Any:
        mark(name)
        crash_log.hold(folder, f"in-{name}")
        return name.upper() if value is None else value

    def flaky() -> str:
        mark("flaky")
        if (folder / "log").read_text().split().count("flaky") == 1:
            raise RuntimeError("first attempt fails")
        crash_log.hold(folder, "in-flaky")
        return "ok"

    @app.job
    async def sleeper(payload: dict[str, Any], io: Any) -> list[str]:
        a = await io.task("a", step, "a")
        await io.wait("nap", payload["n"], payload["unit"])
        return [a, await io.task("c", step, "c")]

    @app.job
    async def keeper(io: Any) -> dict[str, Any]:
        value = await io.task("value", step, "value", VALUE)
        nothing = await io.task("nothing", lambda: None)
        await pause("between")
        return {"value": value, "nothing": nothing, "c": await io.task("c", step, "c")}

    @app.job
    async def listener(payload: dict[str, Any], io: Any) -> dict[str, Any]:
        a = await io.task("a", step, "a")
        event = await io.wait_for_event("paid", "order.paid", filter={"order": [payload["order"]]},
                                        timeout=payload.get("timeout"))
        c = await io.task("c", step, "c")
        return {"a": a, "event": event and event["payload"], "c": c}

    @app.job
    async def retrying(io: Any) -> str:
        result: str = await io.task("flaky", flaky, retry=Retry(retries=3, wait=0.2))
        return result

    def evolving_on(second: str) -> Callable[..., Any]:
        async def evolving(io: Any) -> list[str]:
            done = [await io.task("a", step, "a"), await io.task(second, step, second)]
            await pause("before-c")
            return [*done, await io.task("c", step, "c")]

        return evolving

    version = "2.0.0" if code.startswith("v2") else "1.0.0"
    app.job("evolving", version=version, retry=Retry(retries=3, wait=0))(
        evolving_on("b" if code == "v1" else "x")
    )
    if code == "v2+v1":
        app.job_version("evolving", "1.0.0")(evolving_on("b"))
    return app


def main() -> None:
    """Run a worker as the environment says (see the module docstring)."""
    app = build(os.environ["CRASH_URL"], Path(os.environ["CRASH_DIR"]),
                os.environ.get("CRASH_CODE", "v1"))
    at = os.environ.get("CRASH_AT")
    if at:
        FakeClock(app, start=datetime.fromisoformat(at), patch_python=False)
        app.run_worker(burst=True)
    else:
        app.run_worker(concurrency=2, grace=float(os.environ.get("CRASH_GRACE", "30")),
                       maintenance_interval=0.1, poll_interval=0.1)
    app.close()
