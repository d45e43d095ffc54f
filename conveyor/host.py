"""What the services (worker, durable runs, schedules, events) use of their app, as
protocols: they depend on these, never on :mod:`conveyor.app`, which composes them.

``Extension`` is how a capability plugs into the app's worker and maintenance: a typed
protocol (schedules and durable runs implement it), not attribute probing.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Protocol

from conveyor.triggering import TriggerHost

if TYPE_CHECKING:
    from conveyor.cleanup import CleanupPolicies
    from conveyor.jobs import JobDefinition
    from conveyor.observe import Observer
    from conveyor.registry import JobRegistry
    from conveyor.stores.base import ClaimedJob, FlowRule, ScheduleStore, Store


class Extension(Protocol):
    """A capability plugged into an app (``app.extensions``)."""

    # True: its maintenance runs on the leader's full passes only (every SLOW_PASSES-th,
    # conveyor.maintenance), not on every pass.
    slow: bool

    def maintain(self, app: Host, store: Store, leader: bool) -> None:
        """One maintenance pass (``leader``: this process holds the maintenance lead)."""
        ...

    def claimed(self, app: Host, store: Store, jobs: list[ClaimedJob]) -> list[ClaimedJob]:
        """See jobs a worker just claimed before they run; returns the ones to run."""
        ...

    def cancelled(self, store: ScheduleStore) -> None:
        """Jobs were just cancelled by id (``app.cancel``, ``conveyor cancel``, the
        dashboard) on ``store``."""
        ...


class BaseExtension:
    """An :class:`Extension` that does nothing: subclass it and override what you need."""

    slow = False

    def maintain(self, app: Host, store: Store, leader: bool) -> None:
        return None

    def claimed(self, app: Host, store: Store, jobs: list[ClaimedJob]) -> list[ClaimedJob]:
        return jobs

    def cancelled(self, store: ScheduleStore) -> None:
        return None


class Upkeep(Protocol):
    """A worker's maintenance duty (:class:`conveyor.maintenance.Maintenance`)."""

    def run_once(self, force: bool = False) -> bool:
        """One pass; returns whether this worker leads maintenance."""
        ...


class Host(TriggerHost, Protocol):
    """An app as the services see it (a :class:`conveyor.Conveyor`)."""

    lease: float
    event_retention: float | None
    cleanup: CleanupPolicies
    allow_private_fetch: bool
    observers: list[Observer]
    extensions: list[Extension]
    # Runs jobs that take an ``io`` parameter (the durable-runs service's ``run``).
    durable_runner: Callable[..., Any]

    @property
    def jobs(self) -> JobRegistry: ...

    def definition(self, job_id: str) -> JobDefinition | None:
        """A registered or built-in job definition by id."""
        ...

    def maintain(self, store: Store, leader: bool, full: bool = True) -> None:
        """One maintenance pass: rescue, then every extension (``slow`` ones on a full
        pass only)."""
        ...

    def maintenance_for(self, store: Store, holder: str) -> Upkeep:
        """The leader-elected maintenance duty of worker ``holder`` on ``store``."""
        ...

    def declared_limits(self) -> list[FlowRule]:
        """The flow-control limits declared in code (conveyor.flow)."""
        ...


__all__ = ["BaseExtension", "Extension", "Host", "Upkeep"]
