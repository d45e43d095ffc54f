"""Leader-elected maintenance: one worker at a time keeps the store in shape.

The leader (elected through the store: ``try_lead`` with a lease) runs every pass: rescue
of expired leases, schedule materialisation, event delivery, flow and retention upkeep
(the app's extensions). The other workers write nothing for maintenance: they only try
to take the lead now and then, so a leader that dies is replaced within one lease. Every
interval lives here; each pass is supervised by the worker (logged, retried).
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from conveyor.clock import epoch

if TYPE_CHECKING:
    from conveyor.host import Host
    from conveyor.stores.base import Store

log = logging.getLogger("conveyor.maintenance")
LEAD = "maintenance"
# The leader's lease on the lead, as a share of the app's lease: a dead leader's lead
# lapses after this, and a follower that tries every FOLLOWER_SHARE of a lease takes it
# over, so the leader is replaced within LEAD_SHARE + FOLLOWER_SHARE = one lease.
LEAD_SHARE = 0.75
FOLLOWER_SHARE = 0.25
# Seconds between the leader's passes (the worker's maintenance_interval overrides it).
PASS_EVERY = 1.0


class Maintenance:
    """The maintenance duty of one worker (``holder``) on ``store``."""

    def __init__(self, app: Host, store: Store, holder: str) -> None:
        self.app = app
        self.store = store
        self.holder = holder
        self.leader = False
        self._next_try = 0.0

    @property
    def lead_ttl(self) -> float:
        return LEAD_SHARE * self.app.lease

    @property
    def follower_every(self) -> float:
        return FOLLOWER_SHARE * self.app.lease

    def run_once(self, force: bool = False) -> bool:
        """One pass: renew or try the lead when due; the leader (or ``force``: a burst
        worker finishing) maintains. Returns whether this worker leads."""
        now = epoch(self.app.clock)  # the app's clock: moving it moves the lead too
        if self.leader or force or now >= self._next_try:
            self.leader = self.store.try_lead(LEAD, self.holder, self.lead_ttl)
            if not self.leader:
                self._next_try = now + self.follower_every
        if self.leader or force:
            self.app.maintain(self.store, True)
        return self.leader


def maintain(app: Host, store: Store, leader: bool) -> None:
    """One maintenance pass (``app.maintain``): rescue, then the app's extensions
    (retention cleanup is the built-in ``conveyor.purge`` schedule). Each stage runs even
    when one before it failed; the first failure is raised afterwards (the worker logs it)."""
    stages: list[Callable[[], Any]] = [functools.partial(_rescue, store)]
    for ext in app.extensions:
        stages.append(functools.partial(ext.maintain, app, store, leader))
    failure: Exception | None = None
    for stage in stages:
        try:
            stage()
        except Exception as exc:
            failure = failure or exc
    if failure is not None:
        raise failure


def _rescue(store: Store) -> None:
    rescued = store.rescue()
    if rescued:
        log.warning("rescued %d running %s whose worker stopped renewing its lease; run again",
                    rescued, "job" if rescued == 1 else "jobs",
                    extra={"outcome": "rescued", "count": rescued})


__all__ = ["FOLLOWER_SHARE", "LEAD", "LEAD_SHARE", "PASS_EVERY", "Maintenance", "maintain"]
