"""Helpers of the second-pass blind acceptance tests of SPEC §5, §10, §11 and §12."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from conveyor import Conveyor
from tests.acceptance.blind_durable.support import error_of, rec
from tests.conformance.helpers import ManualClock, drain

__all__ = ["START", "error_of", "rec", "settle"]

START = datetime(2033, 12, 31, 23, 59, 30, tzinfo=UTC)  # a year's last half minute


def settle(app: Conveyor, clock: ManualClock | None = None, **advance: float) -> None:
    """Run what is due, then (with ``advance``) move ``clock`` and run what became due."""
    drain(app)
    if clock is not None and advance:
        clock.advance(**advance)
        drain(app)


def typed(value: Any) -> Any:
    """``value`` with the Python type of every number and container spelled out, so that
    ``1 == 1.0 == True`` cannot hide a changed type."""
    if isinstance(value, dict):
        return {k: typed(v) for k, v in value.items()}
    if isinstance(value, list):
        return [typed(v) for v in value]
    return (type(value).__name__, repr(value))
