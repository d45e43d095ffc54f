"""An async worker's run ends once it has stopped, whatever else its event loop is busy
with: it waits for its own threads only, never for the loop's default executor (which the
async jobs it released may still fill with blocking calls)."""

from __future__ import annotations

import asyncio
import threading
from concurrent.futures import ThreadPoolExecutor

from conveyor import Conveyor
from conveyor.worker import Worker


def test_an_async_worker_stops_while_the_default_executor_is_busy(app: Conveyor) -> None:
    entered, gate = threading.Event(), threading.Event()

    def block() -> None:
        entered.set()
        gate.wait(60)

    @app.job
    async def stuck() -> None:
        await asyncio.to_thread(block)  # outlives the job's cancellation

    handle = stuck().run_now()

    async def main() -> bool:
        # This loop's own executor (one thread), filled by the job's blocking call.
        asyncio.get_running_loop().set_default_executor(ThreadPoolExecutor(1))
        worker = Worker(app, grace=0.1, poll_interval=0.05, maintenance_interval=0.05)
        run = asyncio.create_task(worker.run())
        try:
            for _ in range(600):
                if entered.is_set():
                    break
                await asyncio.sleep(0.05)
            assert entered.is_set(), "the job did not start"
            worker.stop()
            done, _ = await asyncio.wait([run], timeout=15)
            return bool(done)
        finally:
            gate.set()
            await run

    assert asyncio.run(main()), "the worker's run did not end while the executor was busy"
    assert app.get_job(handle.id).state in ("queued", "scheduled")  # released, to run again
