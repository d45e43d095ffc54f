"""Running the ``conveyor`` command line on a given app (for framework integrations)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from conveyor.cli import main
from conveyor.cli.base import preset_app

if TYPE_CHECKING:
    from conveyor.app import Conveyor


def run_cli(app: Conveyor, args: Sequence[str], prog_name: str) -> int:
    """Run ``conveyor <args>`` on ``app`` (unless ``--app`` names another); returns the
    exit status (user errors are printed as one line on stderr, as by ``conveyor``)."""
    with preset_app(app):
        try:
            main.main(args=list(args), prog_name=prog_name, standalone_mode=True)
        except SystemExit as exc:
            code = exc.code
            return code if isinstance(code, int) else (0 if code is None else 1)
    return 0
