"""The conformance helpers live with the shipped suite (conveyor.testing.conformance)."""

from conveyor.testing.conformance.helpers import (
    ManualClock,
    NewApp,
    before_storing,
    drain,
    rescued_while_running,
    wait_for,
    worker_thread,
)

__all__ = ["ManualClock", "NewApp", "before_storing", "drain", "rescued_while_running",
           "wait_for", "worker_thread"]
