"""Claimed jobs waiting to start, and pool threads that run sync jobs start to finish.

A sync job with no timeout runs on a lane thread, which also turns what happened into its
outcome; outcomes go to a queue the event loop drains in batches (one wake-up per batch,
not two thread hand-offs per job). A lane thread that finishes a job takes the next waiting
sync job itself, so a steady stream of sync jobs never waits for the loop.
"""

from __future__ import annotations

import collections
import contextlib
import logging
import queue
import threading
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Protocol

from conveyor.stores.base import ClaimedJob, Outcome

if TYPE_CHECKING:
    from conveyor.worker.execute import JobRunner

log = logging.getLogger("conveyor.worker")

Done = tuple[ClaimedJob, Outcome | None, BaseException | None]


class Refill(Protocol):
    low_water: int  # wake the loop to claim more when this few jobs wait (it may change)


class Slots:
    """Claimed jobs waiting to start (this worker holds their leases) and how many jobs
    run now; shared by the event loop and the lane threads under one lock. A job past
    its ``start_by`` never starts: it goes to ``late``, for the loop to give back."""

    def __init__(self, concurrency: int) -> None:
        self.lock = threading.Lock()
        self.ready: collections.deque[ClaimedJob] = collections.deque()
        self.late: list[ClaimedJob] = []
        self.running = 0
        self.concurrency = concurrency

    def head(self) -> ClaimedJob | None:
        """(Holding the lock) the next waiting job that may still start."""
        ready, now = self.ready, time.monotonic()
        while ready and ready[0].start_by <= now:
            self.late.append(ready.popleft())
        return ready[0] if ready else None

    def take(self) -> list[ClaimedJob]:
        """Waiting jobs that may start now (each takes a slot)."""
        taken = []
        with self.lock:
            while self.running < self.concurrency and self.head() is not None:
                taken.append(self.ready.popleft())
                self.running += 1
        return taken

    def take_late(self) -> list[ClaimedJob]:
        """The jobs found too late to start since the last call."""
        with self.lock:
            late, self.late = self.late, []
        return late

    def release(self) -> None:
        with self.lock:
            self.running -= 1

    def withdraw(self, job_id: int | None = None) -> list[ClaimedJob]:
        """Take unstarted jobs back (one by id, or all), those found too late included
        (a lane thread moves them to ``late`` before the loop takes them): they will not
        start here."""
        with self.lock:
            if job_id is None:
                jobs = [*self.late, *self.ready]
                self.late.clear()
                self.ready.clear()
                return jobs
            for waiting in (self.ready, self.late):
                for job in waiting:
                    if job.id == job_id:
                        waiting.remove(job)
                        return [job]
            return []


class ThreadLane:
    """Up to ``size`` threads running thread-native sync jobs (started as needed)."""

    def __init__(self, size: int, runner: JobRunner, slots: Slots, lost: set[int],
                 wake: Callable[[], object], refill: Refill,
                 begin: Callable[[ClaimedJob], object] = lambda job: None) -> None:
        self.size = size
        self.refill = refill
        self.runner = runner
        self.slots = slots
        self.lost = lost
        self.wake = wake
        self.begin = begin  # tells of a job a thread took from slots.ready, as it starts
        self.begun: collections.deque[ClaimedJob] = collections.deque()  # for the loop
        self.eager = False  # wake the loop as a thread takes a job (the loop tells of it)
        # Whether the loop has a store call in flight (it claims again once that returns).
        self.exchanging: Callable[[], bool] = lambda: False
        self.jobs: queue.SimpleQueue[ClaimedJob | None] = queue.SimpleQueue()
        self.done: collections.deque[Done] = collections.deque()
        self.threads: list[threading.Thread] = []
        self.idle = 0  # threads waiting for a job that no put() has promised one yet
        self.idle_lock = threading.Lock()
        self.kicked = False

    def put(self, job: ClaimedJob) -> None:
        """Run a job that holds a slot: on an idle thread (each idle thread is promised
        to one job, so two jobs put at once never wait for one thread), else a new one."""
        with self.idle_lock:
            spare = self.idle > 0
            if spare:
                self.idle -= 1
        self.jobs.put(job)
        if not spare and len(self.threads) < self.size:
            thread = threading.Thread(target=self._serve, daemon=True,
                                      name=f"conveyor-job-{len(self.threads)}")
            self.threads.append(thread)
            thread.start()

    def drain(self) -> tuple[list[ClaimedJob], list[Done]]:
        """The jobs threads took from slots.ready and the outcomes made since the last
        drain (call on the event loop): every outcome's job is among those taken by now."""
        self.kicked = False
        done = []
        while self.done:
            done.append(self.done.popleft())
        begun = []
        while self.begun:
            begun.append(self.begun.popleft())
        return begun, done

    def close(self) -> None:
        """Stop the threads once they are idle (a thread still running a job finishes it)."""
        for _ in self.threads:
            self.jobs.put(None)

    def _serve(self) -> None:
        slots, runner = self.slots, self.runner
        while True:
            job = self.jobs.get()  # a new thread's first job, or one promised to it idle
            if job is None:  # close()
                return
            while job is not None:
                if job.id in self.lost:  # lease lost before it started: never run it
                    self.done.append((job, None, None))
                else:
                    try:
                        outcome = runner.run_in_thread(job)
                    except BaseException as bug:  # (a job's own is its outcome) the job
                        # fails and the lane goes on: a lane thread that died took its
                        # slot and its job (heartbeated for ever) with it
                        log.exception("job %s (%s): its lane thread failed; the attempt "
                                      "fails", job.id, job.job)
                        outcome = runner.broken(job, bug, f"conveyor failed to run it "
                                                f"({bug!r})")
                    self.done.append((job, outcome, runner.errors.pop(job.id, None)))
                hungry = False
                with slots.lock:  # keep the slot for the next waiting sync job, if any
                    head = slots.head()
                    late = bool(slots.late)  # for the loop to give back
                    if head is not None and runner.thread_native(head):
                        job = slots.ready.popleft()
                        hungry = len(slots.ready) <= self.refill.low_water
                    else:
                        job = None
                        with self.idle_lock:  # idle before its slot is free: a job put
                            self.idle += 1    # for that slot is promised to this thread
                        slots.running -= 1
                if job is not None and job.id not in self.lost:  # it starts: told now
                    self.begun.append(job)
                    self.begin(job)
                # The loop is woken when this thread goes idle, when few jobs wait, when
                # a job is too late to start, or when many outcomes do: not once per job.
                urgent = (job is None or (hungry and not self.exchanging()) or late
                          or len(self.done) >= self.size or self.eager)
                if urgent and not self.kicked:
                    self.kicked = True
                    # RuntimeError: the loop is closed (the worker has stopped)
                    with contextlib.suppress(RuntimeError):
                        self.wake()
