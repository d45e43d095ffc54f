"""conveyor: durable background jobs on SQLite or PostgreSQL."""

from conveyor.app import Conveyor
from conveyor.errors import (
    ConfigurationError,
    ConveyorError,
    Fail,
    JobFailed,
    NonDeterminismError,
    PayloadError,
    RetryIn,
    ScheduleError,
    StoreError,
    UnknownJobError,
    is_internal,
)
from conveyor.jobs import JobCall, JobDefinition, JobHandle, slugify
from conveyor.records import Attempt, JobRecord, LogEntry
from conveyor.retry import Retry
from conveyor.schedules import Schedule, parse_schedule

__all__ = [
    "Attempt",
    "ConfigurationError",
    "Conveyor",
    "ConveyorError",
    "Fail",
    "JobCall",
    "JobDefinition",
    "JobFailed",
    "JobHandle",
    "JobRecord",
    "LogEntry",
    "NonDeterminismError",
    "PayloadError",
    "Retry",
    "RetryIn",
    "Schedule",
    "ScheduleError",
    "StoreError",
    "UnknownJobError",
    "is_internal",
    "parse_schedule",
    "slugify",
]
