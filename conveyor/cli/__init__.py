"""The ``conveyor`` command line (click).

Each verb lives in a module of this package that defines a ``commands`` list of click
commands; :data:`COMMAND_MODULES` names those modules. To add a verb (e.g.
``conveyor schedules``):

1. write ``conveyor/cli/schedules.py``::

       import click
       from conveyor.cli.base import app_options, fail

       @click.command()
       @app_options()                 # --app/$CONVEYOR_APP and --url; app_options(positional=True)
       def schedules(app: Conveyor) -> None:   # also takes APP as an argument
           ...                        # fail("...") prints one "error: ..." line, exits 2

       commands = [schedules]

2. add ``"schedules"`` to :data:`COMMAND_MODULES` below (the one registration line).

Errors: raise :class:`conveyor.cli.base.UserError` (or call ``fail``) for mistakes the
user can fix; any :class:`conveyor.ConveyorError` escaping a command is printed the same
way (``error: ...`` on stderr, exit status 2). Let bugs raise: they keep their traceback.
Tables and records are printed with rich via :mod:`conveyor.cli.render`.
"""

from __future__ import annotations

import importlib

import click

from conveyor.cli.base import ConveyorGroup, group_options

COMMAND_MODULES = (
    "worker",      # conveyor worker
    "trigger",     # conveyor run
    "views",       # conveyor jobs, runs, show
    "manage",      # conveyor cancel, retry, purge, migrate
    "dashboard",   # conveyor dashboard
    "schedules",   # conveyor schedules
    "flow",        # conveyor pause, resume, queues
)


def _version() -> str:
    import conveyor

    return str(conveyor.__version__)


@click.group(cls=ConveyorGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(_version(), "-V", "--version", prog_name="conveyor",
                      message="%(prog)s %(version)s")
@group_options
def main() -> None:
    """conveyor: durable background jobs. Every command finds the app from --app APP
    (before or after the command) or $CONVEYOR_APP (module:attr or path/to/app.py[:attr]);
    --url overrides its store."""


for _name in COMMAND_MODULES:
    for _command in importlib.import_module(f"conveyor.cli.{_name}").commands:
        main.add_command(_command)

__all__ = ["COMMAND_MODULES", "main"]
