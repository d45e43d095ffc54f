"""Fixtures of the differential pass: ``trio``, which opens three apps (memory, SQLite,
PostgreSQL) on empty stores with the same options, for tests that run one sequence of
public calls on each and compare what they read back."""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from pathlib import Path

import pytest

from conveyor import Conveyor
from tests.schemas import SchemaPool


class Trio:
    """``open(**options)``: a memory, a SQLite and a PostgreSQL app, each on a new empty
    store (once per hypothesis example); ``close(apps)`` closes them and gives the
    PostgreSQL schema back for the next example. Apps left open close after the test."""

    def __init__(self, tmp_path: Path, schemas: SchemaPool) -> None:
        self.tmp_path, self.schemas = tmp_path, schemas
        self.numbers = itertools.count()
        self.opened: dict[int, tuple[list[Conveyor], str]] = {}

    def open(self, **options: object) -> list[Conveyor]:
        pg = self.schemas.take()
        urls = ["memory://", f"sqlite:///{self.tmp_path}/diff{next(self.numbers)}.db", pg]
        apps = [Conveyor(url, **options) for url in urls]  # type: ignore[arg-type]
        self.opened[id(apps)] = (apps, pg)
        return apps

    def opened_apps(self) -> list[Conveyor]:
        """The apps opened and not closed yet, in order."""
        return [app for apps, _ in self.opened.values() for app in apps]

    def close(self, apps: list[Conveyor]) -> None:
        apps, pg = self.opened.pop(id(apps))
        for app in apps:
            app.close()
        self.schemas.give_back(pg)


@pytest.fixture
def trio(tmp_path: Path, pg_schemas: SchemaPool) -> Iterator[Trio]:
    opened = Trio(tmp_path, pg_schemas)
    yield opened
    for apps, _ in list(opened.opened.values()):
        opened.close(apps)
