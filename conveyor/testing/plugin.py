"""The pytest plugin conveyor registers: a ``conveyor_app`` fixture (memory store)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

import pytest

from conveyor.testing.clock import stop_all

if TYPE_CHECKING:
    from conveyor.app import Conveyor


@pytest.fixture
def conveyor_app() -> Iterator[Conveyor]:
    """A fresh ``Conveyor("memory://")``, closed after the test."""
    from conveyor.app import Conveyor

    app = Conveyor("memory://")
    try:
        yield app
    finally:
        app.close()


@pytest.hookimpl(trylast=True)
def pytest_runtest_teardown(item: pytest.Item) -> None:
    """Give the process its real clock back if a test left a FakeClock running."""
    stop_all()
