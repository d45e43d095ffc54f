"""Blind pass O (SPEC §1-6 only): ``app`` / ``open_app`` / ``url`` come from the
acceptance conftest (SQLite file, PostgreSQL schema); ``clock`` is a ``FakeClock`` on
``app`` standing still at ``START`` until a test moves it."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime

import pytest

from conveyor import Conveyor
from conveyor.testing import FakeClock

START = datetime(2030, 1, 7, 8, 0, tzinfo=UTC)  # a Monday


@pytest.fixture
def clock(app: Conveyor) -> Iterator[FakeClock]:
    fake = FakeClock(app, start=START)
    yield fake
    fake.stop()
