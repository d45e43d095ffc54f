"""app.lifespan() ends with its host's event loop even when an async job it abandoned
at its timeout (it ignores being cancelled) still runs on that loop."""

from __future__ import annotations

import os
import subprocess
import sys

from tests.support import ROOT

HOST = '''
import asyncio, contextlib, sys
from conveyor import Conveyor, Retry

app = Conveyor(sys.argv[1])

@app.job(timeout=0.1, retry=Retry(retries=0))
async def stubborn() -> None:
    while True:
        with contextlib.suppress(asyncio.CancelledError):
            await asyncio.sleep(3600)

async def serve() -> None:
    async with app.lifespan(concurrency=1):
        handle = stubborn().run_now()
        while app.get_job(handle.id).state != "failed":
            await asyncio.sleep(0.05)

asyncio.run(serve())
print("ended", flush=True)
'''


def test_the_host_loop_ends_past_a_coroutine_abandoned_at_its_timeout(
    store_url: str,
) -> None:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    done = subprocess.run([sys.executable, "-c", HOST, store_url], env=env, cwd=ROOT,
                          capture_output=True, text=True, timeout=30)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "ended"
    assert "is closed as the worker stops" in done.stderr
    assert "Traceback" not in done.stderr and "never retrieved" not in done.stderr
