"""The model behind tests/conformance/test_model.py: what SPEC says the stored jobs are,
kept in plain Python, and how each public operation changes them."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

FINISHED = ("completed", "failed", "cancelled")
UNSTARTED = ("blocked", "pending")  # pending: scheduled or queued, by run_at
#: The error of a job cancelled because a run it depends on failed or was cancelled: it
#: names that run ("run 7 (alpha), which this job depends on, ...").
DEPENDENCY = "dependency"
STATES = ("scheduled", "queued", "blocked", "running", "waiting", *FINISHED)


@dataclass
class Policy:
    """A job's retry policy and how long it is kept once finished (seconds)."""

    max_attempts: int = 1
    wait: float = 0
    backoff: str = "fixed"
    max_wait: float | None = None
    retention: float | None = None
    remove_delay: float | None = None

    def delay(self, k: int) -> float:
        """How long the k-th retry waits."""
        steps = {"fixed": 1, "linear": k, "exponential": 2 ** (k - 1)}[self.backoff]
        delay = self.wait * steps
        return delay if self.max_wait is None else min(delay, self.max_wait)


@dataclass
class Job:
    """One stored job as SPEC says it must read."""

    id: int
    job: str
    queue: str
    priority: int
    key: str | None
    owner: str | None
    payload: Any
    plan: list[str]
    run_at: datetime
    created_at: datetime
    policy: Policy
    deps: list[int] = field(default_factory=list)
    state: str = "pending"  # blocked, pending or a finished state
    attempts: int = 0
    max_attempts: int = 1
    result: Any = None
    error: str | None = None  # the message, or (cancelled by a dependency) a fragment
    finished_at: datetime | None = None
    given_owner: Any = None  # the owner as given and read back (7 stays an int)

    def public_state(self, now: datetime) -> str:
        if self.state != "pending":
            return self.state
        return "queued" if self.run_at <= now else "scheduled"

    @property
    def purge_at(self) -> datetime | None:
        if self.finished_at is None:
            return None
        keep = self.policy.retention
        if self.state == "completed" and self.policy.remove_delay is not None:
            keep = self.policy.remove_delay
        return None if keep is None else self.finished_at + timedelta(seconds=keep)


class World:
    """Every job the store should hold, and the operations of the public API on them."""

    def __init__(self) -> None:
        self.jobs: dict[int, Job] = {}
        self.purged: set[int] = set()

    def unstarted(self) -> list[Job]:
        return [j for j in self.jobs.values() if j.state in UNSTARTED]

    def add(self, job: Job, now: datetime) -> None:
        assert job.id not in self.jobs and job.id not in self.purged, job.id
        assert all(job.id > i for i in [*self.jobs, *self.purged]), "ids increase"
        job.max_attempts = job.policy.max_attempts
        self.jobs[job.id] = job
        for dep_id in job.deps:
            dep = self.jobs[dep_id]
            if dep.state in ("failed", "cancelled"):
                self.finish(job, "cancelled", now, error=DEPENDENCY)
                return
        if any(self.jobs[d].state != "completed" for d in job.deps):
            job.state = "blocked"

    def finish(self, job: Job, state: str, now: datetime, error: str | None = None) -> None:
        """``job`` ends in ``state``; what depends on it follows (SPEC §10)."""
        job.state, job.finished_at = state, now
        if error is not None:
            job.error = error
        self.follow(job, now)

    def follow(self, job: Job, now: datetime) -> None:
        """What depends on ``job``, which just finished, follows it."""
        for other in self.dependents(job.id):
            if job.state == "completed":
                if other.state == "blocked" and all(  # (a purged one had completed)
                        d not in self.jobs or self.jobs[d].state == "completed"
                        for d in other.deps):
                    other.state, other.run_at = "pending", now
            elif other.state in UNSTARTED:
                self.finish(other, "cancelled", now, error=DEPENDENCY)

    def ancestors(self, job: Job) -> set[int]:
        """The runs ``job`` depends on, directly or not."""
        found: set[int] = set()
        todo = list(job.deps)
        while todo:
            dep = todo.pop()
            if dep not in found:
                found.add(dep)
                todo += self.jobs[dep].deps if dep in self.jobs else []
        return found

    def dependents(self, job_id: int) -> list[Job]:
        return [j for j in self.jobs.values() if job_id in j.deps]

    def cancel(self, jobs: Iterable[Job], now: datetime) -> None:
        """Cancel ``jobs`` at once (one statement), then what depends on them."""
        hit = [job for job in jobs if job.state in UNSTARTED]
        for job in hit:
            job.state, job.finished_at = "cancelled", now
        for job in hit:
            self.follow(job, now)

    def refuses_retry(self, job: Job) -> bool:
        """A finished job is not retried while a dependency failed or was cancelled."""
        return any(self._state(d) in ("failed", "cancelled") for d in job.deps)

    def retry(self, job: Job, now: datetime) -> None:
        """Run a finished job again (blocked while a dependency is unfinished), and put
        back the jobs below it cancelled because of it (SPEC §10: a retried member
        carries its chain on)."""
        reopened = {job.id}
        self._reopen(job, now)
        for other in sorted(self.jobs.values(), key=lambda j: j.id):
            if (other.id > job.id and other.state == "cancelled" and other.error == DEPENDENCY
                    and any(d in reopened for d in other.deps)
                    and not self.refuses_retry(other)):
                reopened.add(other.id)
                self._reopen(other, now)
                other.error = None

    def _state(self, job_id: int) -> str:
        """A dependency's state (a purged one had finished: as completed)."""
        return self.jobs[job_id].state if job_id in self.jobs else "completed"

    def _reopen(self, job: Job, now: datetime) -> None:
        waits = any(self._state(d) != "completed" for d in job.deps)
        job.state = "blocked" if waits else "pending"
        job.run_at, job.result, job.finished_at = now, None, None
        job.max_attempts = max(job.max_attempts, job.attempts + 1)

    def ran(self, job: Job, attempt: int, now: datetime) -> None:
        """Attempt ``attempt`` of ``job`` ran to its planned outcome."""
        job.attempts += 1
        assert attempt == job.attempts, (job.id, attempt, job.attempts)
        outcome = job.plan[min(attempt, len(job.plan)) - 1]
        tag = job.payload["tag"]
        if outcome == "ok":
            job.result = {"tag": tag, "attempt": attempt}
            self.finish(job, "completed", now)
        elif outcome == "fail":
            self.finish(job, "failed", now, error=f"gave up {tag} {attempt}")
        elif outcome == "later":
            job.error, job.run_at = "retry in 30 seconds", now + timedelta(seconds=30)
        elif attempt < job.max_attempts:
            job.error = f"boom {tag} {attempt}"
            job.run_at = now + timedelta(seconds=job.policy.delay(attempt))
        else:
            self.finish(job, "failed", now, error=f"boom {tag} {attempt}")

    def purge(self, jobs: Iterable[Job]) -> None:
        for job in list(jobs):
            del self.jobs[job.id]
            self.purged.add(job.id)

    def expired(self, now: datetime) -> list[Job]:
        return [j for j in self.jobs.values() if j.purge_at is not None and j.purge_at <= now]


def matches(job: Job, now: datetime, states: list[str], filters: dict[str, Any],
            owners: dict[Any, str | None]) -> bool:
    """Does ``job`` match these ``jobs_list``/``cancel_jobs``/``purge`` filters?"""
    name = filters.get("type") or filters.get("job")
    data = filters.get("data")
    return (job.public_state(now) in states
            and (name is None or job.job == name)
            and (filters.get("queue") is None or job.queue == filters["queue"])
            and ("owner" not in filters or job.owner == owners[filters["owner"]])
            and (filters.get("key") is None or job.key == filters["key"])
            and (data is None or all(job.payload.get(k) == v for k, v in data.items())))
