"""Leader-elected maintenance: one worker at a time keeps the store in shape.

The leader (elected through the store: ``try_lead`` with a lease) runs the passes: rescue
of expired leases and event delivery on every one; schedule materialisation, flow and
retention upkeep (the app's ``slow`` extensions) on every SLOW_PASSES-th. The other
workers write nothing for maintenance: they only try to take the lead now and then, so a
leader that dies is replaced within one lease. Every interval lives here; each pass is
supervised by the worker (logged, retried).

What a worker does while idle (default lease 30 s, maintenance_interval 1 s):

* every worker: waits for work on the store's change notification (PostgreSQL LISTEN,
  SQLite data_version) and reads the next due time as the guarantee, every QUIET_POLLS x
  ``poll_interval`` (5 s) while idle with notifications working (conveyor.worker.loop),
  else every ``poll_interval``; renews its worker row every lease/3 (10 s, its presence
  on the dashboard) on its own heartbeat thread;
  a follower tries to take the lead every FOLLOWER_SHARE x lease (7.5 s);
* the leader, once per pass (``maintenance_interval``): rescues expired leases and
  delivers due events; every SLOW_PASSES-th pass (10 s) it also fills schedule gaps, checks
  whether retention cleanup has work, and prunes rate buckets (at most every
  FLOW_PRUNE_EVERY s); it renews its lead every RENEW_SHARE x lease (7.5 s).
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from conveyor.clock import epoch
from conveyor.errors import is_connection_error
from conveyor.observe import watches_rescues
from conveyor.stores.base import LOST, JobFilter

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
# The leader renews its lead every RENEW_SHARE of a lease (three times per lead lease).
RENEW_SHARE = 0.25
# Seconds between the leader's passes (the worker's maintenance_interval overrides it).
PASS_EVERY = 1.0
# Every this many passes the pass is full: extensions marked ``slow`` (schedule gaps and
# the retention check, rate-bucket pruning) run too; the others run on every pass.
SLOW_PASSES = 10
# Seconds between prunes of expired rate-limit buckets (on full passes).
FLOW_PRUNE_EVERY = 60.0
# At most this many rescued jobs per pass are read back for their observers.
LOST_HOOKED = 1000


class Maintenance:
    """The maintenance duty of one worker (``holder``) on ``store``."""

    def __init__(self, app: Host, store: Store, holder: str) -> None:
        self.app = app
        self.store = store
        self.holder = holder
        self.leader = False
        self._next_try = 0.0  # a follower's next try, or the leader's next renewal
        self._passes = 0

    @property
    def lead_ttl(self) -> float:
        return LEAD_SHARE * self.app.lease

    @property
    def follower_every(self) -> float:
        return FOLLOWER_SHARE * self.app.lease

    @property
    def renew_every(self) -> float:
        return RENEW_SHARE * self.app.lease

    def run_once(self, force: bool = False) -> bool:
        """One pass: renew or try the lead when due; the leader (or ``force``: a burst
        worker finishing) maintains. Returns whether this worker leads."""
        now = epoch(self.app.clock)  # the app's clock: moving it moves the lead too
        if force or now >= self._next_try:
            self.leader = self.store.try_lead(LEAD, self.holder, self.lead_ttl)
            self._next_try = now + (self.renew_every if self.leader else self.follower_every)
        if self.leader or force:
            full = force or self._passes % SLOW_PASSES == 0
            self._passes += 1
            self.app.maintain(self.store, True, full=full)
        return self.leader


def maintain(app: Host, store: Store, leader: bool, full: bool = True) -> None:
    """One maintenance pass (``app.maintain``): rescue, then the app's extensions
    (retention cleanup is the built-in ``conveyor.purge`` schedule); extensions marked
    ``slow`` only on a ``full`` pass (every SLOW_PASSES-th of the leader). Each stage runs
    even when one before it failed; the first failure is raised afterwards (the worker
    logs it)."""
    stages: list[Callable[[], Any]] = [functools.partial(_rescue, app, store)]
    for ext in app.extensions:
        if full or not getattr(ext, "slow", False):  # a duck-typed one may lack it
            stages.append(functools.partial(ext.maintain, app, store, leader))
    failure: BaseException | None = None
    for stage in stages:
        try:
            stage()
        except BaseException as exc:  # any (an extension's own): the others still run
            failure = failure or exc
    if failure is not None:
        raise failure


def _rescue(app: Host, store: Store) -> None:
    """Rescue the jobs whose lease expired; the observers that watch rescues (hooks,
    metrics) are told of them (read before and after, only while one watches)."""
    watchers = [o for o in app.observers if watches_rescues(o)]
    lost: list[int] | None = None  # read (when watched): only these are rescued
    if watchers:
        try:
            lost = [row.id for row in store.list_jobs(
                JobFilter(states=[LOST]), LOST_HOOKED, 0, False)]
        except Exception as exc:  # a store that cannot tell: the rescue goes on unobserved
            if is_connection_error(exc):
                raise  # unreachable: reported as every failed pass is, in one line
            log.exception("could not read the expired jobs before rescuing them; their "
                          "rescue is not reported to hooks or metrics")
    # Observed, only the jobs read as lost are rescued: a lease ending between the read
    # and the rescue is rescued (and heard of) on the next pass. (More than were read:
    # all, as before, the first LOST_HOOKED heard of.)
    whole = lost is None or len(lost) >= LOST_HOOKED
    rescued = store.rescue(None if whole else set(lost or ()))
    if rescued and lost:
        records = app.get_jobs(lost)  # in bulk (a purged one is left out)
        for observer in watchers:
            try:
                observer.rescued(records)
            except Exception:
                log.exception("observer %r failed on rescued jobs", observer)
    if rescued:
        log.warning("rescued %d running %s whose worker stopped renewing its lease; run again",
                    rescued, "job" if rescued == 1 else "jobs",
                    extra={"outcome": "rescued", "count": rescued})


__all__ = [
    "FLOW_PRUNE_EVERY", "FOLLOWER_SHARE", "LEAD", "LEAD_SHARE", "PASS_EVERY", "RENEW_SHARE",
    "SLOW_PASSES", "Maintenance", "maintain",
]
