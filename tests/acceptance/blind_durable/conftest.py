"""Fixtures of the blind acceptance tests of SPEC §5 (durable jobs) and §10 (workflows);
each test runs on the memory, SQLite and PostgreSQL stores."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from conveyor import Conveyor
from tests.acceptance.blind_durable.support import START
from tests.conformance.helpers import ManualClock


@pytest.fixture
def make(new_app: Callable[..., Conveyor]) -> Callable[..., Conveyor]:
    return new_app


@pytest.fixture
def app(make: Callable[..., Conveyor]) -> Conveyor:
    return make()


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(START)


@pytest.fixture
def capp(make: Callable[..., Conveyor], clock: ManualClock) -> Conveyor:
    return make(clock=clock)
