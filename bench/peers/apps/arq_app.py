"""arq on Redis (db 4): `arq bench.peers.apps.arq_app.WorkerSettings` (max_jobs 10, its
default; poll_delay 10 ms instead of 0.5 s, as in the issue). arq runs coroutines only,
so the sync job runs in the loop's default thread pool."""

import asyncio
from typing import Any, ClassVar

from arq.connections import RedisSettings

from bench.peers import work as body


async def work(ctx: dict[str, Any], t: float) -> None:
    await asyncio.get_running_loop().run_in_executor(None, body.work, t)


class WorkerSettings:
    functions: ClassVar = [work]
    redis_settings = RedisSettings(host=body.HOST, database=4)
    max_jobs = 10
    poll_delay = 0.01
