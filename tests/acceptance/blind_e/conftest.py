"""Fixtures of the second blind pass over SPEC §1-4 and §8: the first pass's own
(``make``, ``app``, ``clock``, ``capp``), so every test runs on the memory, SQLite and
PostgreSQL stores; and ``every_store``, one app on each at once, to compare them."""

from collections.abc import Iterator
from pathlib import Path

import pytest

from conveyor import Conveyor
from tests.acceptance.blind_core.conftest import app, capp, clock, make

__all__ = ["app", "capp", "clock", "every_store", "make"]


@pytest.fixture
def every_store(tmp_path: Path, pg_store: str) -> Iterator[list[Conveyor]]:
    """A memory, a SQLite and a PostgreSQL app, each on an empty store."""
    apps = [Conveyor("memory://"), Conveyor(f"sqlite:///{tmp_path}/jobs.db"), Conveyor(pg_store)]
    yield apps
    for each in apps:
        each.close()
