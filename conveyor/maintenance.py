"""Leader-elected maintenance: one worker at a time keeps the store in shape.

The leader (elected through the store: ``try_lead`` with a lease) runs every pass: rescue
of expired leases, schedule materialisation, event delivery, flow and retention upkeep
(the app's extensions). The other workers write nothing for maintenance: they only try
to take the lead now and then, so a leader that dies is replaced within one lease. Every
interval lives here; each pass is supervised by the worker (logged, retried).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from conveyor.clock import epoch

if TYPE_CHECKING:
    from conveyor.host import Host
    from conveyor.stores.base import Store

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


__all__ = ["FOLLOWER_SHARE", "LEAD", "LEAD_SHARE", "PASS_EVERY", "Maintenance"]
