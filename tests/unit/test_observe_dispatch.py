"""The worker's observer dispatch: inline observers in place, async ones as tasks, and
no task per job while nothing watches."""

from __future__ import annotations

import asyncio
from typing import Any

from conveyor import Conveyor
from conveyor.observe.dispatch import Dispatch
from conveyor.stores.base import ClaimedJob, Outcome


def _job(job_id: int = 1) -> ClaimedJob:
    return ClaimedJob(job_id, "j", "[]", "{}", 1, 1, 1, None, None, 10.0, 11.0)


class Inline:
    def __init__(self) -> None:
        self.seen: list[tuple[str, int]] = []

    def started_now(self, job: ClaimedJob) -> None:
        self.seen.append(("started", job.id))

    def finished_now(self, job: ClaimedJob, outcome: Outcome | None,
                     error: BaseException | None) -> None:
        self.seen.append(("finished", job.id))
        raise RuntimeError("an observer that fails is logged")


class Async:
    def __init__(self, watching: bool) -> None:
        self.wants = watching
        self.seen: list[tuple[str, int]] = []

    def watching(self, event: str) -> bool:
        return self.wants

    async def attempt_started(self, app: Any, job: ClaimedJob) -> None:
        self.seen.append(("started", job.id))

    async def attempt_finished(self, app: Any, job: ClaimedJob, outcome: Outcome | None,
                               error: BaseException | None) -> None:
        self.seen.append(("finished", job.id))


def test_no_task_per_job_while_no_observer_watches() -> None:
    app = Conveyor("memory://")
    inline, idle, busy = Inline(), Async(watching=False), Async(watching=True)
    app.observers[:] = [inline, idle]

    async def main() -> None:
        dispatch = Dispatch(app)
        app.observers[:] = [inline, idle]  # without metrics and tracing, if installed
        dispatch.started(_job())
        dispatch.finished(_job(), Outcome(1, 1, "completed", 12.0), None)
        assert not dispatch.tasks  # inline calls ran in place; idle watches nothing
        assert inline.seen == [("started", 1), ("finished", 1)]
        app.observers.append(busy)  # seen from the next call on
        dispatch.started(_job(2))
        dispatch.finished(_job(2), None, None)
        assert len(dispatch.tasks) == 1  # the second call waits for the first
        await dispatch.drain(1.0)
        assert busy.seen == [("started", 2), ("finished", 2)] and not idle.seen

    asyncio.run(main())


def test_hooks_watch_only_the_events_they_are_registered_for() -> None:
    app = Conveyor("memory://")
    assert not app.hooks.watching("started") and not app.hooks.watching("finished")
    app.on("failed", lambda record, error=None: None)
    assert app.hooks.watching("finished") and not app.hooks.watching("started")


class Batches(Inline):
    """An inline observer told of a claim's or a flush's attempts in one call."""

    def started_all(self, jobs: list[ClaimedJob]) -> None:
        self.seen.append(("started_all", len(jobs)))

    def finished_all(self, ended: list[Any]) -> None:
        self.seen.append(("finished_all", len(ended)))
        raise RuntimeError("a batch that fails is logged")


def test_inline_observers_hear_of_a_batch_in_one_call(caplog: Any) -> None:
    app = Conveyor("memory://")
    plain, batches = Inline(), Batches()
    dispatch = Dispatch(app)
    app.observers[:] = [plain, batches]
    jobs = [_job(1), _job(2)]
    dispatch.started_all(jobs)
    dispatch.finished_all([(job, Outcome(job.id, 1, "completed", 12.0), None) for job in jobs])
    assert plain.seen == [("started", 1), ("started", 2), ("finished", 1), ("finished", 2)]
    assert batches.seen == [("started_all", 2), ("finished_all", 2)]
    failed = [r.getMessage() for r in caplog.records if "failed for job" in r.getMessage()]
    assert len(failed) == 3 and any("jobs 1, 2" in line for line in failed)
