"""Conveyor inside a web app: the dashboard as an ASGI app to mount (``app.asgi()``), a
worker in the web process's lifespan (``app.lifespan()``)."""

from __future__ import annotations

import asyncio
import importlib
import logging
import os
from collections.abc import Callable, Sequence
from types import TracebackType
from typing import TYPE_CHECKING, Any

from conveyor.errors import ConfigurationError
from conveyor.options import coerce_queues, worker_concurrency

if TYPE_CHECKING:
    from starlette.types import ASGIApp

    from conveyor.host import Host
    from conveyor.worker import Worker

log = logging.getLogger("conveyor.worker")


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

    def __call__(self, asgi_app: object = None) -> Lifespan:
        return self

    async def __aenter__(self) -> None:  # no lifespan state for the web app
        if self.worker_wanted:
            from conveyor.worker import Worker

            self.worker = Worker(self.app, concurrency=self.concurrency, queues=self.queues,
                                 **self.options)
            self.task = asyncio.create_task(self._run(self.worker))

    @staticmethod
    async def _run(worker: Worker) -> None:
        try:
            await worker.run()
        except Exception:
            log.exception("the web process's worker stopped with an error")

    async def __aexit__(self, kind: type[BaseException] | None, exc: BaseException | None,
                        tb: TracebackType | None) -> None:
        if self.worker is not None and self.task is not None:
            self.worker.stop()
            await self.task
        self.worker = self.task = None


__all__ = ["Lifespan", "asgi"]
