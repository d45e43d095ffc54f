"""``@app.on(event)`` hooks: user functions told about outcomes after they are stored."""

from __future__ import annotations

import asyncio
import inspect
import logging
import threading
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

from conveyor.errors import ConfigurationError
from conveyor.injection import is_async_callable
from conveyor.observe import rescued_event

if TYPE_CHECKING:
    from conveyor.observe import RecordSource
    from conveyor.records import JobRecord
    from conveyor.stores.base import ClaimedJob, Outcome

log = logging.getLogger("conveyor.hooks")

EVENTS = ("started", "completed", "failed", "retrying", "cancelled")
# Outcome state -> the hook event it fires ("waiting": a durable run asleep, none;
# "cancelled": an outcome the store refused, its job cancelled as the attempt ended).
_BY_STATE = {"completed": "completed", "failed": "failed", "pending": "retrying",
             "cancelled": "cancelled"}
_FINISHED = ("completed", "failed", "retrying", "cancelled")

Hook = Callable[..., Any]


@dataclass(frozen=True)
class Registered:
    """A hook and how it takes the error: ``fn(record, error=e)``, ``fn(record, e)``, or
    ``fn(record)`` for a hook written without the error (``def on_done(record)``)."""

    fn: Hook
    takes_error: str  # "keyword", "positional" or ""

    @classmethod
    def of(cls, fn: Hook) -> Registered:
        try:
            params = inspect.signature(fn).parameters.values()
        except (TypeError, ValueError):  # a builtin or C callable: the documented call
            return cls(fn, "keyword")
        kinds = [p.kind for p in params]
        if inspect.Parameter.VAR_KEYWORD in kinds or any(
            p.name == "error" and p.kind != p.POSITIONAL_ONLY for p in params
        ):
            return cls(fn, "keyword")
        positional = [k for k in kinds if k in (inspect.Parameter.POSITIONAL_ONLY,
                                                 inspect.Parameter.POSITIONAL_OR_KEYWORD)]
        if inspect.Parameter.VAR_POSITIONAL in kinds or len(positional) >= 2:
            return cls(fn, "positional")
        if len(positional) == 1:
            return cls(fn, "")
        raise ConfigurationError(
            f"hook {getattr(fn, '__qualname__', fn)!r} takes no argument; a hook is called "
            "with the job's record (and error=None): def hook(record, error=None)"
        )

    def call(self, record: JobRecord, error: BaseException | None) -> Any:
        if self.takes_error == "keyword":
            return self.fn(record, error=error)
        return self.fn(record, error) if self.takes_error else self.fn(record)


class Hooks:
    """The hooks registered with ``app.on``; a :class:`WorkerObserver`."""

    def __init__(self, source: RecordSource | None = None) -> None:
        self.registered: dict[str, list[Registered]] = {event: [] for event in EVENTS}
        self._source = source  # the app: reads the jobs a rescued one's failure cancelled

    def check(self, event: str) -> None:
        """Refuse an unknown event name."""
        if event not in self.registered:
            raise ConfigurationError(
                f"unknown hook event {event!r}; accepted: {', '.join(EVENTS)}"
            )

    def add(self, event: str, fn: Hook) -> Hook:
        self.check(event)
        if not callable(fn):
            raise ConfigurationError(f"a hook must be callable, not {type(fn).__name__}")
        self.registered[event].append(Registered.of(fn))
        return fn

    def wants(self, event: str) -> bool:
        return bool(self.registered[event])

    def watching(self, event: str) -> bool:
        """Whether a worker should call this observer for ``event`` ("started" or
        "finished"): only while a hook is registered for it."""
        if event == "started":
            return bool(self.registered["started"])
        return any(self.registered[e] for e in _FINISHED)

    async def attempt_started(self, app: RecordSource, job: ClaimedJob) -> None:
        await self.fire(app, "started", job.id, None, attempt=job.attempt)

    async def attempt_finished(
        self, app: RecordSource, job: ClaimedJob, outcome: Outcome | None,
        error: BaseException | None,
    ) -> None:
        if outcome is None:  # lost while running: only a cancel is an outcome of its own
            await self.fire(app, "cancelled", job.id, None, only_if_state="cancelled",
                            held=job.attempt)
            return
        event = _BY_STATE.get(outcome.state)
        if event is not None:
            await self.fire(app, event, job.id, error,
                            attempt=job.attempt if event == "retrying" else None,
                            held=job.attempt, later=bool(outcome.delay))

    async def fire(
        self, app: RecordSource, event: str, job_id: int, error: BaseException | None,
        only_if_state: str | None = None, attempt: int | None = None,
        held: int | None = None, later: bool = False,
    ) -> None:
        """``held``: the attempt a worker held; a cancel is its to report only if that
        attempt's lease was live when the cancel was stored (else its canceller's).
        ``later``: a retry is due after a wait (``scheduled``, else ``queued``)."""
        # A job read back cancelled after its attempt completed or failed was cancelled
        # as the attempt ended: the store refused that outcome (the cancel took the
        # lease), so what happened to it is the cancel (a stored end takes no cancel).
        fenced = event in ("completed", "failed")
        if not self.registered[event] and not (fenced and self.registered["cancelled"]):
            return
        record = await asyncio.to_thread(app.get_job, job_id)
        if record is None or (only_if_state and record.state != only_if_state):
            return
        if fenced and record.state == "cancelled":
            event, error = "cancelled", None
        if event == "cancelled" and held is not None and not (
                record.attempts == held and cancelled_under_lease(record)):
            return  # its canceller reported it
        fns = self.registered[event]
        if attempt is not None:
            record = (_as_started(record, attempt) if event == "started"
                      else _as_retried(record, attempt, later))
        for fn in fns:
            await call_hook(fn, event, record, error)
        if event in ("failed", "cancelled") and self.registered["cancelled"]:
            for victim in await asyncio.to_thread(cascade_victims, app, [record]):
                for fn in list(self.registered["cancelled"]):
                    await call_hook(fn, "cancelled", victim, None)

    def cancelled(self, app: RecordSource, records: Iterable[JobRecord]) -> None:
        """Run the ``cancelled`` hooks for jobs cancelled in this process (not running,
        so no worker reports them)."""
        todo = [r for r in records if r.state == "cancelled" and not cancelled_under_lease(r)]
        if not todo or not self.wants("cancelled"):
            return
        todo += cascade_victims(app, todo)
        todo = list({record.id: record for record in todo}.values())

        fns = list(self.registered["cancelled"])

        async def run() -> None:
            if not any(map(_is_async, fns)):  # one thread calls them all, in the same order
                loop = asyncio.get_running_loop()
                await asyncio.to_thread(_call_all_sync, fns, "cancelled", todo, loop)
                return
            await self._call_each([("cancelled", record) for record in todo])

        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            asyncio.run(run())
        else:
            task = loop.create_task(run())
            _background.add(task)
            task.add_done_callback(_background.discard)

    def watching_rescues(self) -> bool:
        return any(self.registered[e] for e in ("retrying", "failed", "cancelled"))

    def rescued(self, records: Iterable[JobRecord]) -> threading.Thread | None:
        """Run the ``retrying`` and ``failed`` hooks of jobs rescued from a worker that
        stopped heartbeating (by a maintenance pass: no attempt's worker reports them), and
        the ``cancelled`` ones of the jobs a poison failure cancelled, on a thread of their
        own, so that the pass never waits for user code."""
        todo, poisoned = [], []
        for record in records:
            event = rescued_event(record)
            if event is not None and self.registered[event]:
                todo.append((event, record))
            if event == "failed":
                poisoned.append(record)
        source = self._source if self.registered["cancelled"] else None
        if not todo and not (poisoned and source):
            return None

        def run() -> None:
            if source is not None:  # their dependents, cancelled with them
                todo.extend(("cancelled", victim)
                            for victim in cascade_victims(source, poisoned))
            asyncio.run(self._call_each(todo))

        thread = threading.Thread(target=run, name="conveyor-hooks", daemon=True)
        thread.start()
        return thread

    async def _call_each(self, todo: list[tuple[str, JobRecord]]) -> None:
        """The hooks of each (event, record) in turn, outside a worker's attempt."""
        for event, record in todo:
            for hook in list(self.registered[event]):
                await call_hook(hook, event, record, None)


_background: set[asyncio.Task[None]] = set()


def cascade_victims(app: RecordSource, roots: Sequence[JobRecord]) -> list[JobRecord]:
    """The jobs the store cancelled because one of ``roots`` failed or was cancelled: its
    dependents at any depth, each stored with that root as the cause and the root's end
    time (that cascade runs in SQL, so no worker or canceller reports them otherwise);
    root by root, each root's by id. Read a level of the graph at a time, in bulk: a
    5,000-job fan-out takes a few queries per thousand, not a few per job."""
    by_id = {root.id: root for root in roots}
    found: dict[int, dict[int, JobRecord]] = {root_id: {} for root_id in by_id}
    level = [(root.id, job_id) for root in by_id.values() for job_id in root.dependents]
    while level:
        level = [(root_id, job_id) for root_id, job_id in dict.fromkeys(level)
                 if job_id != root_id and job_id not in found[root_id]]
        read = {r.id: r for r in app.get_jobs({job_id for _, job_id in level})}
        below = []
        for root_id, job_id in level:
            record, root = read.get(job_id), by_id[root_id]
            error = (record.error or {}) if record is not None else {}
            if record is not None and record.state == "cancelled" and error.get(
                    "type") == "DependencyFailed" and error.get("cause") == root.id and (
                    record.finished_at == root.finished_at):
                found[root_id][job_id] = record
                below += [(root_id, dep) for dep in record.dependents]
        level = below
    return [record for victims in found.values()
            for record in sorted(victims.values(), key=lambda r: r.id)]


def cancelled_under_lease(record: JobRecord) -> bool:
    """Was ``record`` cancelled as it ran under a live lease? Then its worker reports the
    cancel, else (not running, or its worker had stopped renewing the lease, maybe dead)
    the canceller does: exactly one of them. The store decides it in the cancel's own
    statement, keeping the lease's end only when it was not past (``lease_expires_at <
    now`` is lost, as everywhere)."""
    return (record.state == "cancelled" and record.lease_expires_at is not None
            and record.finished_at is not None
            and record.lease_expires_at >= record.finished_at)


def _as_started(record: JobRecord, attempt: int) -> JobRecord:
    """The record as ``attempt`` started: running. A fast attempt may have ended (and its
    retry started) by the time the hook reads the record."""
    if record.state == "running" and record.attempts == attempt:
        return record
    history = [a if a.number < attempt else replace(a, finished_at=None, error=None)
               for a in record.history if a.number <= attempt]
    began = history[-1].started_at if history and history[-1].number == attempt else None
    before = history[-2].error if len(history) > 1 else None
    return replace(record, state="running", attempts=attempt, result=None, finished_at=None,
                   started_at=began or record.started_at, error=before, history=history)


def _as_retried(record: JobRecord, attempt: int, later: bool) -> JobRecord:
    """The record as ``attempt``'s retry left it: ``scheduled`` (``later``) or ``queued``,
    that attempt's error. A retry without a wait may have started (or even finished) on
    another worker by the time the hook reads the record."""
    if record.state in ("scheduled", "queued") and record.attempts == attempt:
        return record
    failed = next((a for a in record.history if a.number == attempt), None)
    return replace(record, state="scheduled" if later else "queued", attempts=attempt,
                   result=None, finished_at=None,
                   error=failed.error if failed is not None else record.error)


def _is_async(hook: Registered) -> bool:
    return is_async_callable(hook.fn)


async def call_hook(hook: Registered, event: str, record: JobRecord,
                    error: BaseException | None) -> None:
    """Run one hook (async on the loop, sync in a thread); log what it raises."""
    try:
        if _is_async(hook):
            await hook.call(record, error)
        else:
            result = await asyncio.to_thread(hook.call, record, error)
            if inspect.isawaitable(result):
                await result
    except (asyncio.CancelledError, GeneratorExit):
        raise
    except BaseException:  # KeyboardInterrupt, SystemExit too: a hook never stops a worker
        _failed(hook, event, record)


def _call_all_sync(hooks: list[Registered], event: str, records: list[JobRecord],
                   loop: asyncio.AbstractEventLoop) -> None:
    """Sync ``hooks`` for each of ``records`` in turn, on this (one) thread: what
    :func:`call_hook` does for each, without a thread hand-off per call."""
    for record in records:
        for hook in hooks:
            try:
                result = hook.call(record, None)
                if inspect.isawaitable(result):
                    asyncio.run_coroutine_threadsafe(_wait(result), loop).result()
            except BaseException:  # KeyboardInterrupt, SystemExit too (see call_hook)
                _failed(hook, event, record)


async def _wait(awaitable: Any) -> None:
    await awaitable


def _failed(hook: Registered, event: str, record: JobRecord) -> None:
    log.exception("%s hook %s failed for job %s (the job is not affected)",
                  event, getattr(hook.fn, "__qualname__", hook.fn), record.id)
