"""Black-box acceptance tests written from SPEC alone (public names only), on SQLite
(a temporary file) and PostgreSQL (a schema of its own per test).

``app`` is an app on an empty store; ``open_app(url=None, **options)`` opens one more app
(on ``url``, default: the test's store) and closes it after the test; ``url`` is the
test's store URL.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from conveyor import Conveyor


@pytest.fixture(params=["sqlite", "postgres"])
def url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "postgres":
        return str(request.getfixturevalue("pg_store"))
    return f"sqlite:///{tmp_path}/jobs.db"


@pytest.fixture
def open_app(url: str) -> Iterator[Callable[..., Conveyor]]:
    opened: list[Conveyor] = []

    def make(where: str | None = None, **options: object) -> Conveyor:
        opened.append(Conveyor(where or url, **options))  # type: ignore[arg-type]
        return opened[-1]

    yield make
    for app in reversed(opened):
        app.close()


@pytest.fixture
def app(open_app: Callable[..., Conveyor]) -> Conveyor:
    return open_app()


@pytest.fixture
def sqlite_app(tmp_path: Path) -> Iterator[Conveyor]:
    """For checks that never reach a store (argument validation): SQLite only."""
    with Conveyor(f"sqlite:///{tmp_path}/jobs.db") as application:
        yield application
