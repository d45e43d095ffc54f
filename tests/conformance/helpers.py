"""The conformance helpers live with the shipped suite (conveyor.testing.conformance);
``claim_ahead_surely`` and ``warm_up`` are for this repository's worker tests."""

import pytest

from conveyor import Conveyor
from conveyor.testing.conformance.helpers import (
    ManualClock,
    NewApp,
    before_storing,
    drain,
    rescued_while_running,
    wait_for,
    worker_thread,
)

__all__ = ["ManualClock", "NewApp", "before_storing", "claim_ahead_surely", "drain",
           "rescued_while_running", "wait_for", "warm_up", "worker_thread"]


def claim_ahead_surely(monkeypatch: pytest.MonkeyPatch, patience: float = 2.0) -> None:
    """Make a worker claim ahead once any job finished, however slowly (a loaded machine
    can make warm-up jobs miss the 'quick' mark), and give back jobs claimed ahead only
    after ``patience`` seconds unstarted, so a test can see them held first."""
    monkeypatch.setattr("conveyor.worker.claims.QUICK", 60.0)
    monkeypatch.setattr("conveyor.worker.ahead.AHEAD_PATIENCE", patience)


def warm_up(app: Conveyor) -> None:
    """Run five quick jobs on the app's running worker: a worker claims ahead of its slots
    only while jobs finish quickly."""

    @app.job
    def quick() -> None: ...

    for h in [quick().run_now() for _ in range(5)]:
        h.result(timeout=20)
