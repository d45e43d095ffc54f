"""``conveyor dashboard APP``: serve the web UI and JSON API (optionally with a worker)."""

from __future__ import annotations

import os
import threading

import click

from conveyor.app import Conveyor
from conveyor.cli.base import app_options, fail


@click.command()
@app_options(positional=True)
@click.option("--host", default="127.0.0.1", show_default=True,
              help="Interface to bind; anything but loopback needs $CONVEYOR_TOKEN.")
@click.option("--port", type=click.IntRange(1, 65535), default=8750, show_default=True)
@click.option("--with-worker", is_flag=True,
              help="Also run a worker in this process (handy for demos and `make run`).")
@click.option("--concurrency", type=click.IntRange(1, 1000), default=4, show_default=True,
              help="Jobs the --with-worker worker runs at once.")
def dashboard(app: Conveyor, host: str, port: int, with_worker: bool, concurrency: int) -> None:
    """Serve the dashboard and JSON API for APP (token: $CONVEYOR_TOKEN)."""
    try:
        from conveyor.dashboard import check_bind, serve
    except ImportError:
        fail("the dashboard is not installed: pip install 'conveyor[dashboard]'")
    check_bind(host, os.environ.get("CONVEYOR_TOKEN") or None)
    worker = thread = None
    if with_worker:
        from conveyor.worker import Worker

        worker = Worker(app, concurrency=concurrency)
        thread = threading.Thread(target=worker.run_blocking, name="conveyor-worker",
                                  daemon=True)
        thread.start()
    click.echo(f"conveyor dashboard on http://{_url_host(host)}:{port}/", err=True)
    try:
        serve(app, host=host, port=port)
    finally:
        if worker is not None and thread is not None:
            worker.stop()
            thread.join(worker.grace + 5)


def _url_host(host: str) -> str:
    return f"[{host}]" if ":" in host else host


commands = [dashboard]
