"""Conveyor inside a web app: the dashboard as an ASGI app to mount (``app.asgi()``), a
worker in the web process's lifespan (``app.lifespan()``)."""

from __future__ import annotations

import asyncio
import contextlib
import importlib
import logging
import os
from collections.abc import Callable, Sequence
from time import monotonic
from types import TracebackType
from typing import TYPE_CHECKING, Any

from conveyor.errors import ConfigurationError
from conveyor.options import coerce_queues, worker_concurrency

if TYPE_CHECKING:
    from starlette.types import ASGIApp

    from conveyor.host import Host
    from conveyor.worker import Worker

log = logging.getLogger("conveyor.worker")
# Seconds before a web process's worker that stopped with an error is replaced (doubling
# up to RESTART_MOST while it keeps failing).
RESTART_FIRST = 1.0
RESTART_MOST = 60.0


def restart_delay(delay: float, ran: float) -> float:
    """The wait before replacing a worker that failed after running ``ran`` seconds:
    ``delay`` (doubled after each failure) while it keeps failing, RESTART_FIRST again
    once it ran longer than RESTART_MOST (a failure a day is not a failing streak)."""
    return RESTART_FIRST if ran > RESTART_MOST else delay


def asgi(app: Host, token: str | None = None, prefix: str = "") -> ASGIApp:
    """The dashboard and JSON API of ``app`` as an ASGI app (``app.asgi()``); ``token``
    defaults to ``$CONVEYOR_TOKEN``, as for ``conveyor dashboard``."""
    if token is None:
        token = os.environ.get("CONVEYOR_TOKEN") or None
    # The dashboard is optional (the ``dashboard`` extra): loaded when asked for.
    mount = importlib.import_module("conveyor.dashboard.mount")
    build: Callable[..., ASGIApp] = mount.asgi_app
    return build(app, token=token, prefix=prefix)


class Lifespan:
    """An ASGI lifespan (``lifespan=`` of FastAPI and Starlette) and an async context
    manager that runs a worker in the background."""

    def __init__(self, app: Host, worker: bool, concurrency: int,
                 queues: Sequence[str] | str | None, options: dict[str, Any]) -> None:
        if not isinstance(worker, bool):
            raise ConfigurationError(f"worker must be True or False, got {worker!r}")
        self.app = app
        self.worker_wanted = worker
        # Checked now, not when the web app starts serving.
        self.concurrency = worker_concurrency(concurrency)
        self.queues = coerce_queues(queues)
        self.options = options
        self.worker: Worker | None = None
        self.task: asyncio.Task[None] | None = None
        self.stopping = asyncio.Event()

    def __call__(self, asgi_app: object = None) -> Lifespan:
        return self

    async def __aenter__(self) -> None:  # no lifespan state for the web app
        if self.worker_wanted:
            from conveyor.worker import Worker

            def new() -> Worker:
                self.worker = Worker(self.app, concurrency=self.concurrency,
                                     queues=self.queues, **self.options)
                return self.worker

            self.stopping = asyncio.Event()
            new()  # options refused now, in the web app's start-up
            self.task = asyncio.create_task(self._run(new))

    async def _run(self, new: Callable[[], Worker]) -> None:
        """Run the worker; one that stops with an error (WorkerFailed: the store gone
        past its outage tolerance, say) is logged and replaced, as a supervisor restarts
        ``conveyor worker``: the web process serving on would otherwise run no job again."""
        worker, delay = self.worker or new(), RESTART_FIRST
        while True:
            started = monotonic()
            try:
                await worker.run()
                return  # stopped (the lifespan ends), or a burst worker found no work
            except Exception:
                if self.stopping.is_set():
                    return
                delay = restart_delay(delay, monotonic() - started)
                log.exception("the web process's worker stopped with an error; a new one "
                              "starts in %g s", delay)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.stopping.wait(), delay)
                return
            delay = min(delay * 2, RESTART_MOST)
            worker = new()

    async def __aexit__(self, kind: type[BaseException] | None, exc: BaseException | None,
                        tb: TracebackType | None) -> None:
        if self.task is not None:
            self.stopping.set()
            if self.worker is not None:
                self.worker.stop()
            await self.task
        self.worker = self.task = None


__all__ = ["Lifespan", "asgi"]
