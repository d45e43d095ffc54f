"""``conveyor dashboard APP``: serve the web UI and JSON API (optionally with a worker).

With ``--with-worker``, SIGTERM or Ctrl-C stops both: the server at once, the worker
after its running jobs finish (up to ``--grace`` seconds; then they are released so
another worker retries them at once). A second Ctrl-C stops without waiting.

Without a worker, a store that does not exist yet is served all the same: every page
and API call says so (503) until a worker or ``conveyor migrate`` creates it.
"""

from __future__ import annotations

import errno
import os
import signal
import socket
import threading
from collections.abc import Callable
from types import FrameType
from typing import TYPE_CHECKING

import click

from conveyor.app import Conveyor
from conveyor.cli.base import app_options, fail
from conveyor.cli.worker import exit_past_stuck_jobs
from conveyor.stores.missing import MissingStore

if TYPE_CHECKING:
    from conveyor.worker import Worker


@click.command()
@app_options(positional=True, check_store=False,
             read_only=lambda options: not options["with_worker"])
@click.option("--host", default="127.0.0.1", show_default=True,
              help="Interface to bind; anything but loopback needs $CONVEYOR_TOKEN.")
@click.option("--port", type=click.IntRange(1, 65535), metavar="PORT", default=8750,
              show_default=True, help="Port to listen on.")
@click.option("--with-worker", is_flag=True,
              help="Also run a worker in this process (handy for demos and small setups).")
@click.option("--concurrency", type=click.IntRange(1, 1000), metavar="N", default=4,
              show_default=True,
              help="Jobs the --with-worker worker runs at once.")
@click.option("--grace", type=click.FloatRange(min=0), default=30.0, show_default=True,
              metavar="SECONDS",
              help="On SIGTERM/Ctrl-C, how long the --with-worker worker's running jobs may "
                   "finish before they are released to other workers.")
def dashboard(app: Conveyor, host: str, port: int, with_worker: bool, concurrency: int,
              grace: float) -> None:
    """Serve the web dashboard and JSON API for APP. $CONVEYOR_TOKEN, when set, protects
    it (and is required to bind beyond loopback)."""
    try:
        from conveyor.dashboard import check_bind, serve
    except ImportError:
        fail("the dashboard is not installed: pip install 'conveyor[dashboard]'")
    check_bind(host, os.environ.get("CONVEYOR_TOKEN") or None)
    check_port(host, port)
    if isinstance(app.store, MissingStore):  # served all the same: the pages say so
        click.echo(f"{app.store.message} (the dashboard shows it once it exists)", err=True)
    stopper = Stopper()
    thread = None
    if with_worker:
        from conveyor.worker import Worker

        stopper.worker = Worker(app, concurrency=concurrency, grace=grace)
        thread = threading.Thread(target=stopper.worker.run_blocking, name="conveyor-worker",
                                  daemon=True)
        thread.start()
    stopper.install()
    click.echo(f"conveyor dashboard on http://{_url_host(host)}:{port}/", err=True)
    try:
        serve(app, host=host, port=port, stopper=stopper.server_started)
    finally:
        if stopper.worker is not None and thread is not None:
            stopper.stop_worker(thread)
            exit_past_stuck_jobs(app)


class Stopper:
    """SIGTERM/SIGINT: the first stops the worker within its grace period, the next one
    stops it now. (uvicorn handles the signals while it serves and raises them again
    once it has stopped, which lands here.)"""

    def __init__(self) -> None:
        self.worker: Worker | None = None
        self.signals = 0
        self.stop_server: Callable[[], None] | None = None

    def server_started(self, stop: Callable[[], None]) -> None:
        """The server's stop function; a signal that came before it stops it at once."""
        self.stop_server = stop
        if self.signals:
            stop()

    def install(self) -> None:
        for sig in (signal.SIGTERM, signal.SIGINT):
            signal.signal(sig, self.handle)

    def handle(self, sig: int, frame: FrameType | None) -> None:
        self.signals += 1
        if self.stop_server is not None:  # a signal outside uvicorn's own handling
            self.stop_server()
        if self.worker is None:
            return
        if self.signals > 1:
            click.echo("stopping now: running jobs are released to other workers", err=True)
        self.worker.stop(force=self.signals > 1)

    def stop_worker(self, thread: threading.Thread) -> None:
        assert self.worker is not None
        if not self.worker.stopping:
            self.worker.stop()
        if thread.is_alive():
            click.echo(f"stopping the worker: running jobs get up to {self.worker.grace:g} s "
                       "(Ctrl-C again to stop now)", err=True)
        while thread.is_alive():  # joined in steps, so a second signal is handled at once
            thread.join(0.1)


def check_port(host: str, port: int) -> None:
    """Refuse a port another process listens on, in one line, before printing a URL."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except OSError as exc:
        fail(f"cannot serve on {host}:{port}: {exc.strerror or exc}")
    family, kind, proto, _, address = infos[0]
    with socket.socket(family, kind, proto) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as uvicorn binds
        try:
            probe.bind(address)
        except OSError as exc:
            if exc.errno == errno.EADDRINUSE:
                fail(f"port {port} on {host} is already in use; stop what runs there or "
                     "pick another with --port")
            fail(f"cannot serve on {host}:{port}: {exc.strerror or exc}")


def _url_host(host: str) -> str:
    return f"[{host}]" if ":" in host else host


commands = [dashboard]
