"""What a worker does for its app besides running jobs, on its database thread: the
app's extensions see each claim first (a schedule stores its next occurrence), and the
worker takes its turn at maintenance (leader-elected: :mod:`conveyor.maintenance`)."""

from __future__ import annotations

import os
import socket
from collections.abc import Sequence
from typing import TYPE_CHECKING

from conveyor.stores.base import ClaimedJob, Store
from conveyor.stores.rows import JobFilter

if TYPE_CHECKING:
    from conveyor.host import Host, Upkeep


ORPHANS_LOOKED_AT = 1000  # running jobs a burst worker looks at for a dead worker's


class Duties:
    """Worker ``holder``'s duties to ``app``."""

    def __init__(self, app: Host, holder: str) -> None:
        self.app = app
        self.holder = holder
        self.maintenance: Upkeep | None = None  # made on the first pass

    def claimed(self, store: Store, jobs: list[ClaimedJob]) -> list[ClaimedJob]:
        """Extensions see claimed schedule occurrences before they run (to store the next
        occurrence, or skip a misfire); returns the jobs to run."""
        for ext in self.app.extensions:
            jobs = ext.claimed(self.app, store, jobs)
        return jobs

    def maintain(self, store: Store, force: bool) -> None:
        """One maintenance pass (``force``: now, whatever the pass's interval)."""
        if self.maintenance is None:
            self.maintenance = self.app.maintenance_for(store, self.holder)
        self.maintenance.run_once(force)

    def orphaned(self, store: Store, queues: Sequence[str] | None, lease: float) -> bool:
        """Are jobs of ``queues`` left running by a worker that is gone (its process on
        this host has ended, or no heartbeat within ``lease``: a lost host)? A burst worker
        waits for their leases to expire, rescues and runs them."""
        running = store.list_jobs(JobFilter(states=["running"], queues=queues),
                                  ORPHANS_LOOKED_AT)
        if not running:
            return False
        here = socket.gethostname()
        live = {w.id for w in store.workers(lease)
                if w.host != here or process_alive(w.pid)} | {self.holder}
        return any(row.worker_id not in live for row in running)


def process_alive(pid: int) -> bool:
    """Is process ``pid`` of this host running (not gone, not a zombie)?"""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:  # another user's: it exists
        return True
    try:
        with open(f"/proc/{pid}/stat", "rb") as stat:
            return stat.read().rsplit(b")", 1)[1].split()[0] != b"Z"
    except (OSError, IndexError):
        return True  # no /proc (not Linux): it exists
