"""The replay engine: a durable run's steps, identified by (run, seq) and checked by key.

A run may execute many times. Each ``io`` call takes the next sequence number; if a step
is stored there, it must have the same kind and key (else the code changed under the run:
:class:`NonDeterminismError`) and its stored result is handed back without running it
again. New steps run, and their outcome is stored (fenced by the run's lease) before the
run goes on.
"""

from __future__ import annotations

import asyncio
import functools
import hashlib
import json
import math
from collections.abc import Awaitable, Callable, Iterator
from concurrent.futures import Executor
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Final, NoReturn, Protocol, TypeVar

from conveyor.clock import Clock, after_delay, epoch
from conveyor.errors import (
    ConfigurationError,
    Fail,
    FetchRefused,
    NonDeterminismError,
    PayloadError,
    RetryIn,
    StepFailed,
    Suspend,
)
from conveyor.events import EventsHost
from conveyor.retry import Retry
from conveyor.serialization import as_error, dumps
from conveyor.stores.base import StepRow, StepWrite
from conveyor.text import check_text, clean
from conveyor.timeunits import FAR_FUTURE, delay_seconds
from conveyor.worker.failure import error_json

if TYPE_CHECKING:
    from conveyor.durable.writes import StepWriter
    from conveyor.stores.base import ClaimedJob, Store
    from conveyor.worker.meta import Meta


def fingerprint(*parts: Any) -> str:
    """A stable digest of a call's arguments (objects JSON cannot hold count by type)."""
    text = json.dumps(parts, sort_keys=True, default=lambda o: type(o).__qualname__)
    return hashlib.sha1(text.encode()).hexdigest()


class DurableHost(EventsHost, Protocol):
    """What durable runs use of their app."""

    clock: Clock | None
    allow_private_fetch: bool
    timezone: str  # calendar steps of io.wait are taken in it

T = TypeVar("T")
# Exceptions a step attempt fails with for good (retrying cannot help).
FINAL = (Fail, FetchRefused, PayloadError)
# The io method behind each step kind, for messages.
CALLS = {"event": "wait_for_event", "fetch": "background_fetch", "log": "logger",
         "children": "run_jobs"}
# An attempt is handed its number and whether it is the last one allowed.
Attempt = Callable[[int, bool], Awaitable[Any]]


#: A delay a remote server asks for is a hint only when finite and at most this long.
ABSURD_DELAY: Final = 366 * 86400.0
#: A remote hint is capped by the step's ``max_wait``, or by this without one.
DEFAULT_HINT_CAP: Final = 3600.0


class RetryAfter(Exception):
    """Raised by an attempt to ask for a retry after ``delay`` seconds (e.g. HTTP 429)."""

    def __init__(self, message: str, delay: float | None) -> None:
        super().__init__(message)
        self.delay = delay


def hinted_delay(hint: float | None, policy: Retry) -> float | None:
    """A remote-controlled delay made safe: None (use the policy) unless finite and sane,
    else capped by the policy's ``max_wait`` (default one hour)."""
    if isinstance(hint, bool) or not isinstance(hint, int | float):
        return None
    try:
        seconds = float(hint)
    except OverflowError:  # a huge int
        return None
    if not math.isfinite(seconds) or seconds > ABSURD_DELAY:
        return None
    cap = policy.max_wait_seconds
    return min(max(seconds, 0.0), DEFAULT_HINT_CAP if cap is None else cap)


class Run:
    """The replay state of one execution of a durable run."""

    def __init__(
        self, app: DurableHost, claimed: ClaimedJob, steps: list[StepRow], meta: Meta,
        version: str | None, writer: StepWriter,
    ) -> None:
        self.app = app
        self.writer = writer
        self.db: Executor = writer.db
        self.store: Store = writer.store
        self.claimed = claimed
        self.meta = meta
        self.version = version
        self.by_seq = {s.seq: s for s in steps}
        self.by_key = {s.key: s for s in steps if s.kind != "log"}
        self.seq = 0
        self.busy: str | None = None
        self.fatal: BaseException | None = None

    @property
    def id(self) -> int:
        return self.claimed.id

    def _fail(self, exc: BaseException) -> BaseException:
        """Remember an error that must fail the run even if user code catches it."""
        self.fatal = self.fatal or exc
        return self.fatal

    def stored(self, step: StepRow, column: str, default: str) -> Any:
        """A JSON column of a stored step (``default`` when empty). Text that is not JSON
        (written by other software) fails the run for good, saying which step: every
        replay would meet it again."""
        text = getattr(step, column)
        try:
            return json.loads(text or default)
        except (ValueError, RecursionError):
            raise self._fail(Fail(
                f"run {self.id}: the stored {column} of step #{step.seq} ({step.kind} "
                f"{step.key!r}) is not JSON: {clean(text, 200)!r}; this run cannot be "
                "replayed (cancel it, or trigger the job again)"
            )) from None

    @contextmanager
    def step(self, kind: str, key: str, fingerprint: str | None) -> Iterator[StepRow | None]:
        """Take the next step: yields the stored step (replay) or None (run it now)."""
        if not isinstance(key, str) or not key:
            raise ConfigurationError(f"a step key must be a non-empty str, got {key!r}")
        check_text(key, "step key")  # refused alike on every store (PostgreSQL cannot hold it)
        if self.fatal is not None:
            raise self.fatal
        if self.busy is not None:
            raise self._fail(NonDeterminismError(
                f"io.{CALLS.get(kind, kind)}({key!r}) started while step {self.busy} was "
                "still running: "
                "durable steps run one at a time (asyncio.gather or create_task over io "
                "calls is not supported); await each io call before starting the next"
            ))
        stored = self._lookup(kind, key, fingerprint)
        self.busy = f"{kind} {key!r}"
        try:
            yield stored
        except Suspend as exc:
            # Kept: code that swallows it (except BaseException) still suspends the run:
            # every later io call raises it again and the run's outcome is this suspension.
            self._fail(exc)
            raise
        finally:
            self.busy = None

    def _lookup(self, kind: str, key: str, fingerprint: str | None) -> StepRow | None:
        seq = self.seq + 1
        stored = self.by_seq.get(seq)
        if stored is not None and stored.key == key and stored.kind == kind:
            self.seq = seq
            return stored
        earlier = self.by_key.get(key) if kind != "log" else None
        if earlier is not None and earlier.seq < seq:
            if earlier.kind == kind and earlier.fingerprint == fingerprint:
                return earlier  # the same call again: its stored result, no new step
            raise self._fail(ConfigurationError(
                f"step key {key!r} is already used in this run by step #{earlier.seq} "
                f"({earlier.kind}) with other arguments; keys are unique within a run, "
                f"so give each call its own key (e.g. f\"{key}-{{i}}\" in a loop)"
            ))
        if stored is not None:
            raise self._fail(NonDeterminismError(
                f"run {self.id} replayed step #{seq} as {kind} {key!r}, but the stored "
                f"step #{seq} is {stored.kind} {stored.key!r}: the job's code changed while "
                "this run was in flight. Register the code the run started with "
                "(app.job_version) or cancel the run"
            ))
        self.seq = seq
        return None

    def check_complete(self) -> None:
        """Called when the job returned: every stored step must have been replayed (code
        that returns before a stored step changed under the run)."""
        later = [s for s in self.by_seq.values() if s.seq > self.seq]
        if later:
            first = min(later, key=lambda s: s.seq)
            raise self._fail(NonDeterminismError(
                f"run {self.id} returned after step #{self.seq}, but step #{first.seq} is "
                f"stored ({first.kind} {first.key!r}): the job's code changed while this run "
                "was in flight. Register the code the run started with (app.job_version) or "
                "cancel the run"
            ))

    def new_step(self, kind: str, key: str, fingerprint: str | None, **fields: Any) -> StepRow:
        now = epoch(self.app.clock)
        fields.setdefault("state", "completed")
        if fields["state"] == "completed":
            fields.setdefault("finished_at", now)
        return StepRow(
            job_id=self.id, seq=self.seq, key=key, kind=kind, fingerprint=fingerprint,
            started_at=now, **fields,
        )

    async def save(self, step: StepRow, suspend_until: float | None = None) -> None:
        """Store ``step`` (and with ``suspend_until`` set the run waiting) under the lease;
        returns once committed (with other runs' steps: :mod:`conveyor.durable.writes`)."""
        saved = await self.writer.save(
            StepWrite(self.claimed.token, step, suspend_until, self.version)
        )
        if not saved:
            # The lease is gone (cancelled, or rescued after a stall): whoever holds the
            # run now carries on; this execution stops and its outcome is fenced out.
            raise Suspend(FAR_FUTURE)
        self.by_seq[step.seq] = step
        if step.kind != "log":
            self.by_key[step.key] = step

    async def call(self, fn: Callable[..., T], *args: Any) -> T:
        """Run a (blocking) store call on the durable runs' database threads."""
        return await asyncio.get_running_loop().run_in_executor(
            self.db, functools.partial(fn, *args)
        )

    async def now(self) -> float:
        return await self.call(self.store.now)

    async def attempt(
        self, kind: str, key: str, fingerprint: str | None, input: str | None,
        action: Attempt, policy: Retry,
    ) -> Any:
        """A step that runs ``action`` with retries; each failed attempt is recorded and
        waited out durably (the run releases its worker until the retry is due)."""
        with self.step(kind, key, fingerprint) as stored:
            if stored is not None:
                if stored.state == "completed":
                    return self.stored(stored, "output", "null")
                if stored.state == "failed":
                    raise StepFailed(key, as_error(self.stored(stored, "error", "{}")) or {},
                                     final=self.ended_final(stored))
                if stored.wake_at is not None and stored.wake_at > epoch(self.app.clock):
                    raise Suspend(stored.wake_at)
            step = stored or self.new_step(kind, key, fingerprint, state="waiting", input=input)
            number = step.attempts + 1
            try:
                output = dumps(
                    await action(number, number >= policy.max_attempts), f"result of {key!r}",
                    self.app.limits,
                )
            except Exception as exc:
                await self._failed_attempt(step, number, exc, policy)
            step.state, step.output, step.error = "completed", output, None
            step.attempts, step.finished_at = number, epoch(self.app.clock)
            await self.save(step)
            return json.loads(output)

    async def _failed_attempt(
        self, step: StepRow, number: int, exc: Exception, policy: Retry
    ) -> NoReturn:
        now = epoch(self.app.clock)
        asked = None  # RetryIn: an explicit reschedule, as for a job, whatever the retries
        if isinstance(exc, RetryIn):
            try:
                asked = delay_seconds(exc.delay, exc.unit, datetime.fromtimestamp(now, UTC),
                                      self.app.timezone)
            except ConfigurationError as bad:  # fails this attempt like any error
                exc = ConfigurationError(f"invalid RetryIn: {bad}")
        error = error_json(exc)
        history = self.stored(step, "history", "[]")
        history = history if isinstance(history, list) else []
        final = isinstance(exc, FINAL)
        entry = {"attempt": number, "at": now, "error": json.loads(error)}
        if final:  # kept for replays: they raise the same StepFailed, final included
            entry["final"] = True
        history.append(entry)
        step.attempts, step.error, step.history = number, error, json.dumps(history)
        if asked is not None:
            step.state, step.wake_at = "waiting", after_delay(now, asked)
            await self.save(step)
            raise Suspend(step.wake_at)
        if number < policy.max_attempts and not final:
            delay = hinted_delay(exc.delay, policy) if isinstance(exc, RetryAfter) else None
            step.state = "waiting"
            step.wake_at = after_delay(now, delay if delay is not None else policy.delay(number))
            await self.save(step)
            raise Suspend(step.wake_at)
        step.state, step.finished_at = "failed", now
        await self.save(step)
        raise StepFailed(step.key, json.loads(error), final=final) from exc

    def ended_final(self, step: StepRow) -> bool:
        """Whether the failed ``step``'s last attempt ended on a never-retried error."""
        history = self.stored(step, "history", "[]")
        last = history[-1] if isinstance(history, list) and history else None
        return isinstance(last, dict) and last.get("final") is True
