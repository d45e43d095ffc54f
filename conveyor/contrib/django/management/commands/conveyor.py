"""``python manage.py conveyor <verb>``: every ``conveyor`` command, on the project's app."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from django.core.management.base import BaseCommand, CommandError


class Command(BaseCommand):
    help = "conveyor: worker, run, jobs, runs, show, cancel, retry, purge, migrate, ..."

    def run_from_argv(self, argv: list[str]) -> None:
        # Every option belongs to conveyor's own command line, not Django's parser.
        code = self._run(argv[2:], f"{argv[0]} {argv[1]}")
        sys.exit(code)

    def add_arguments(self, parser: argparse.ArgumentParser) -> None:
        parser.add_argument("args", nargs=argparse.REMAINDER)

    def handle(self, *args: Any, **options: Any) -> None:
        code = self._run(list(args), "manage.py conveyor")
        if code:
            raise CommandError(f"conveyor {' '.join(args)} exited with status {code}")

    def _run(self, args: list[str], prog: str) -> int:
        from conveyor.contrib.cli import run_cli
        from conveyor.contrib.django import get_app

        return run_cli(get_app(), args, prog)
