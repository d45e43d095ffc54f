"""Fixtures of the blind acceptance tests of SPEC §1-5 and §8 (each test runs on
the memory, SQLite and PostgreSQL stores)."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from conveyor import Conveyor
from tests.acceptance.blind_core.support import START
from tests.conformance.helpers import ManualClock


@pytest.fixture
def make(new_app: Callable[..., Conveyor]) -> Callable[..., Conveyor]:
    """Opens an app with options on an empty store of each kind (memory, SQLite, PG)."""
    return new_app


@pytest.fixture
def app(make: Callable[..., Conveyor]) -> Conveyor:
    return make()


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(START)


@pytest.fixture
def capp(make: Callable[..., Conveyor], clock: ManualClock) -> Conveyor:
    """An app whose time moves only when the test moves ``clock``."""
    return make(clock=clock)
