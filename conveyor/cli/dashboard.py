"""``conveyor dashboard APP``: serve the web UI (a stub until conveyor.dashboard lands)."""

from __future__ import annotations

import importlib

import click

from conveyor.app import Conveyor
from conveyor.cli.base import app_options, fail


@click.command()
@app_options(positional=True)
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", type=click.IntRange(1, 65535), default=8750, show_default=True)
def dashboard(app: Conveyor, host: str, port: int) -> None:
    """Serve the dashboard and JSON API for APP."""
    try:
        module = importlib.import_module("conveyor.dashboard")
    except ImportError:
        module = None
    serve = getattr(module, "serve", None)
    if serve is None:
        fail("the dashboard is not installed: pip install 'conveyor[dashboard]'")
    serve(app, host=host, port=port)


commands = [dashboard]
