"""Fixtures of the blind acceptance tests of SPEC §5 (durable jobs) and §10 (workflows);
each test runs on the memory, SQLite and PostgreSQL stores. ``make``, ``app`` and
``capp`` are the blind core tests' own; the clock starts on a leap day."""

from __future__ import annotations

import pytest

from tests.acceptance.blind_core.conftest import app, capp, make  # noqa: F401 (fixtures)
from tests.acceptance.blind_durable.support import START
from tests.conformance.helpers import ManualClock


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(START)
