"""conveyor: durable background jobs on SQLite or PostgreSQL."""

from conveyor.app import Conveyor
from conveyor.errors import (
    ArgumentsError,
    AttemptCrashed,
    ConfigurationError,
    ConveyorError,
    Fail,
    FetchRefused,
    JobFailed,
    NonDeterminismError,
    PayloadError,
    RetryIn,
    ScheduleError,
    StepFailed,
    StoreError,
    UnknownJobError,
    WorkerFailed,
    is_internal,
)
from conveyor.flow import QueueInfo
from conveyor.jobs import JobCall, JobDefinition, JobHandle, slugify
from conveyor.priority import Priority
from conveyor.records import Attempt, JobRecord, LogEntry
from conveyor.retry import Retry
from conveyor.schedules import Schedule, parse_schedule
from conveyor.workflows import WorkflowHandle, chain, group

__all__ = [
    "ArgumentsError",
    "Attempt",
    "AttemptCrashed",
    "ConfigurationError",
    "Conveyor",
    "ConveyorError",
    "Fail",
    "FetchRefused",
    "JobCall",
    "JobDefinition",
    "JobFailed",
    "JobHandle",
    "JobRecord",
    "LogEntry",
    "NonDeterminismError",
    "PayloadError",
    "Priority",
    "QueueInfo",
    "Retry",
    "RetryIn",
    "Schedule",
    "ScheduleError",
    "StepFailed",
    "StoreError",
    "UnknownJobError",
    "WorkerFailed",
    "WorkflowHandle",
    "chain",
    "group",
    "is_internal",
    "parse_schedule",
    "slugify",
]


def __getattr__(name: str) -> str:
    """``conveyor.__version__``: the installed distribution's version (read on first use,
    so ``import conveyor`` does not pay for the metadata lookup)."""
    if name == "__version__":
        from importlib.metadata import PackageNotFoundError, version

        try:
            return version("conveyor")
        except PackageNotFoundError:  # pragma: no cover - run from a source tree
            return "unknown"
    raise AttributeError(f"module 'conveyor' has no attribute {name!r}")
