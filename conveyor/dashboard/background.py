"""Serving the dashboard from a background thread (tests, notebooks, demos)."""

from __future__ import annotations

import socket
import threading
import time
from types import TracebackType
from typing import TYPE_CHECKING

from conveyor.dashboard.app import create_app

if TYPE_CHECKING:
    from conveyor.app import Conveyor


class BackgroundServer:
    """``with BackgroundServer(app) as server: httpx.get(server.url)``: uvicorn on a
    free loopback port in a daemon thread, stopped on exit."""

    def __init__(self, conveyor_app: Conveyor, token: str | None = None,
                 host: str = "127.0.0.1", port: int = 0) -> None:
        import uvicorn

        self.socket = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.socket.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.socket.bind((host, port))
        self.port: int = self.socket.getsockname()[1]
        self.url = f"http://{host}:{self.port}"
        config = uvicorn.Config(create_app(conveyor_app, token=token), log_level="warning",
                                lifespan="off")
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, kwargs={"sockets": [self.socket]},
                                       name="conveyor-dashboard", daemon=True)

    def start(self, timeout: float = 10.0) -> BackgroundServer:
        self.thread.start()
        deadline = time.monotonic() + timeout
        while not self.server.started:
            if not self.thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("the dashboard server did not start")
            time.sleep(0.01)
        return self

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(10)
        self.socket.close()

    def __enter__(self) -> BackgroundServer:
        return self.start()

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.stop()
