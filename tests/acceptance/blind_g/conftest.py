"""Fixtures of the second-pass blind acceptance tests of SPEC §5, §10, §11 and §12: each
test runs on SQLite (a temporary file) and PostgreSQL (a schema of its own), through the
acceptance ``app`` / ``open_app`` / ``url`` fixtures. ``capp`` is an app on ``clock``."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from conveyor import Conveyor
from tests.acceptance.blind_g.support import START
from tests.conformance.helpers import ManualClock


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(START)


@pytest.fixture
def capp(open_app: Callable[..., Conveyor], clock: ManualClock) -> Conveyor:
    """An app whose time moves only when the test moves ``clock``."""
    return open_app(clock=clock)
