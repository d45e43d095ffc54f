"""Flask: ``conveyor.contrib.flask.init_app(flask_app, app)`` adds ``flask conveyor <verb>``
(every verb of the ``conveyor`` command, on ``app``) and ``flask_app.extensions["conveyor"]``.
"""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, Any

import click

from conveyor.contrib.cli import run_cli

if TYPE_CHECKING:
    from conveyor.app import Conveyor


def init_app(flask_app: Any, app: Conveyor) -> None:
    """Register ``app`` with ``flask_app``: ``flask conveyor worker``, ``flask conveyor
    runs``, ... run on it; views reach it as ``current_app.extensions["conveyor"]``."""
    flask_app.extensions["conveyor"] = app

    @click.command(
        "conveyor", add_help_option=False,
        context_settings={"ignore_unknown_options": True, "allow_extra_args": True},
    )
    @click.argument("args", nargs=-1, type=click.UNPROCESSED)
    def conveyor_command(args: tuple[str, ...]) -> None:
        """conveyor: worker, run, jobs, runs, show, cancel, retry, purge, ..."""
        code = run_cli(app, args, "flask conveyor")
        if code:
            sys.exit(code)

    flask_app.cli.add_command(conveyor_command)
