"""The producer side of each system: reset its queue, enqueue one job, enqueue in bulk
(where it can), and the command that starts one of its worker processes (default flags,
concurrency 10). Imported by drive.py on the peers' interpreter."""

from __future__ import annotations

import asyncio
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from bench.peers import work as body

BIN = Path(sys.executable).parent
# `conveyor` as installed would run it (conveyor itself comes from the checkout)
CLI = "import sys; from conveyor.cli import main; sys.argv[0] = 'conveyor'; sys.exit(main())"


def _recreate(url: str) -> None:
    """Drop and create the PostgreSQL database ``url`` names (a fresh one per run)."""
    import psycopg

    base, name = url.rsplit("/", 1)
    with psycopg.connect(f"{base}/postgres", autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')


class System:
    name = ""
    bulk: Callable[[int], None] | None = None

    def reset(self) -> None: ...

    def enqueue(self, t: float) -> None: ...

    def worker(self) -> list[str]:
        raise NotImplementedError

    def close(self) -> None: ...


class Conveyor(System):
    def __init__(self, url: str) -> None:
        self.name = "conveyor-" + ("sqlite" if url.startswith("sqlite") else "postgres")
        self.url = url
        os.environ["CONVEYOR_URL"] = url
        if url.startswith("postgres"):
            _recreate(url)
        from bench.peers.apps.conveyor_app import app, work

        self.app, self.job = app, work
        self.bulk = lambda n: app.enqueue_many([work(0.0) for _ in range(n)])

    def reset(self) -> None:
        self.app.cancel_jobs()
        self.app.purge(state=["completed", "failed", "cancelled"])

    def enqueue(self, t: float) -> None:
        self.job(t).run_now()

    def worker(self) -> list[str]:
        return [sys.executable, "-c", CLI, "worker", "bench.peers.apps.conveyor_app:app"]

    def close(self) -> None:
        self.app.close()


class Huey(System):
    name = "huey-redis"

    def __init__(self) -> None:
        from bench.peers.apps.huey_app import huey, work

        self.huey, self.job = huey, work

    def reset(self) -> None:
        self.huey.flush()

    def enqueue(self, t: float) -> None:
        self.job(t)

    def worker(self) -> list[str]:
        return [str(BIN / "huey_consumer"), "bench.peers.apps.huey_app.huey", "-w", "10",
                "-k", "thread"]


class Dramatiq(System):
    name = "dramatiq-redis"

    def __init__(self) -> None:
        from bench.peers.apps.dramatiq_app import broker, work

        self.broker, self.job = broker, work

    def reset(self) -> None:
        self.broker.flush_all()

    def enqueue(self, t: float) -> None:
        self.job.send(t)

    def worker(self) -> list[str]:
        return [str(BIN / "dramatiq"), "bench.peers.apps.dramatiq_app", "--processes", "1",
                "--threads", "10"]


class Procrastinate(System):
    name = "procrastinate-postgres"

    def __init__(self, url: str) -> None:
        os.environ["PEERS_PG_URL"] = self.url = url
        _recreate(url)
        from bench.peers.apps.procrastinate_app import app, work

        self.app, self.job = app, work
        self.app.open()
        self.app.schema_manager.apply_schema()
        self.bulk = lambda n: work.batch_defer(*({"t": 0.0} for _ in range(n)))

    def reset(self) -> None:
        import psycopg

        with psycopg.connect(self.url, autocommit=True) as conn:
            conn.execute("TRUNCATE procrastinate_jobs CASCADE")

    def enqueue(self, t: float) -> None:
        self.job.defer(t=t)

    def worker(self) -> list[str]:
        return [str(BIN / "procrastinate"), "--app=bench.peers.apps.procrastinate_app.app",
                "worker", "--concurrency", "10"]

    def close(self) -> None:
        self.app.close()


class RQ(System):
    name = "rq-redis"

    def __init__(self) -> None:
        from rq import Queue

        self.queue = Queue("peers", connection=body.client(3))
        self.bulk = lambda n: self.queue.enqueue_many(
            [Queue.prepare_data(body.work, (0.0,)) for _ in range(n)])

    def reset(self) -> None:
        body.client(3).flushdb()

    def enqueue(self, t: float) -> None:
        self.queue.enqueue(body.work, t)

    def worker(self) -> list[str]:
        return [str(BIN / "rq"), "worker", "-w", "rq.worker.SimpleWorker", "--url",
                f"redis://{body.HOST}:6379/3", "peers"]


class Arq(System):
    name = "arq-redis"

    def __init__(self) -> None:
        from arq import create_pool

        from bench.peers.apps.arq_app import WorkerSettings

        self.loop = asyncio.new_event_loop()
        self.pool: Any = self.loop.run_until_complete(create_pool(WorkerSettings.redis_settings))

    def reset(self) -> None:
        body.client(4).flushdb()

    def enqueue(self, t: float) -> None:
        self.loop.run_until_complete(self.pool.enqueue_job("work", t))

    def worker(self) -> list[str]:
        return [str(BIN / "arq"), "bench.peers.apps.arq_app.WorkerSettings"]


class Celery(System):
    name = "celery-redis"

    def __init__(self) -> None:
        from bench.peers.apps.celery_app import work

        self.job = work

    def reset(self) -> None:
        body.client(5).flushdb()

    def enqueue(self, t: float) -> None:
        self.job.delay(t)

    def worker(self) -> list[str]:
        return [str(BIN / "celery"), "-A", "bench.peers.apps.celery_app", "worker", "-c", "10"]


def make(name: str, sqlite_url: str, pg_url: str, procrastinate_url: str) -> System:
    if name == "conveyor-sqlite":
        return Conveyor(sqlite_url)
    if name == "conveyor-postgres":
        return Conveyor(pg_url)
    if name == "procrastinate":
        return Procrastinate(procrastinate_url)
    return {"huey": Huey, "dramatiq": Dramatiq, "rq": RQ, "arq": Arq,
            "celery": Celery}[name]()


NAMES = ("conveyor-sqlite", "conveyor-postgres", "huey", "dramatiq", "procrastinate", "rq",
         "arq", "celery")
