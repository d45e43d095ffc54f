"""Job definitions, calls (run_now / run_at / run_in) and handles."""

from __future__ import annotations

import asyncio
import inspect
import re
import time
import unicodedata
from collections.abc import Callable, Generator, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, Protocol, Unpack

from conveyor.clock import Clock
from conveyor.clock import now as clock_now
from conveyor.errors import ArgumentsError, ConfigurationError, JobFailed
from conveyor.injection import INJECTED, by_name, is_async_callable, named
from conveyor.options import CallOptions, JobOptions
from conveyor.serialization import read_error, read_stored
from conveyor.stores.asyncface import state_of
from conveyor.stores.base import JobFilter, JobRow, ReadStore
from conveyor.timeunits import (
    UNCHECKED_DELAY,
    add_interval,
    check_amount,
    fixed_seconds,
    normalize_unit,
    storable_due,
    to_utc,
)

if TYPE_CHECKING:
    from conveyor.limits import KeySpec, Rate
    from conveyor.records import JobRecord
    from conveyor.stores.base import NewJob, Store

class Triggerer(Protocol):
    """Stores calls as jobs (:class:`conveyor.triggering.Triggering`)."""

    def trigger(
        self, call: JobCall, run_at: float | None, delay: float, options: CallOptions
    ) -> JobHandle: ...

    def new_job(
        self, call: JobCall, run_at: float | None = None, delay: float = 0.0,
        options: Mapping[str, Any] | None = None,
    ) -> NewJob: ...

    def insert(self, jobs: Sequence[NewJob], connection: Any = None) -> list[int]: ...

    async def insert_async(self, jobs: Sequence[NewJob]) -> list[int]: ...


class JobHost(Protocol):
    """What definitions, calls and handles use of their app (a :class:`conveyor.Conveyor`)."""

    timezone: str
    clock: Clock | None

    @property
    def jobs(self) -> Mapping[str, JobDefinition]: ...  # the app's JobRegistry

    @property
    def triggering(self) -> Triggerer: ...

    @property
    def store(self) -> Store: ...

    def get_job(self, job_id: int) -> JobRecord | None: ...

    def get_jobs(self, job_ids: Iterable[Any]) -> list[JobRecord]: ...

    def jobs_list(self, **filters: Any) -> list[JobRecord]: ...

    def cancel(self, job_id: int) -> bool: ...


# conveyor's own jobs (retention cleanup): left out of queries that name no job.
PURGE_JOB = "conveyor.purge"
SYSTEM_JOBS = (PURGE_JOB,)


def system_runs(store: ReadStore) -> list[JobRow]:
    """conveyor's own runs (the hourly retention cleanup: a few, kept a day), which counts
    leave out as queries do."""
    return store.list_jobs(JobFilter(jobs=list(SYSTEM_JOBS)), 10_000, 0, False)


def slugify(text: str) -> str:
    """URL form of a job id: lowercase ASCII words joined by '-' (an id with no Latin
    letter or digit keeps its own letters, lowercase: ``отчёт``, ``日本語-ジョブ``)."""
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    slug = re.sub(r"[^a-z0-9]+", "-", ascii_text.lower()).strip("-")
    if slug:
        return slug
    return re.sub(r"[\W_]+", "-", unicodedata.normalize("NFC", text).lower()).strip("-")


@dataclass(eq=False)
class JobDefinition:
    """A function registered as a job. Calling it returns a :class:`JobCall`."""

    app: JobHost
    id: str
    fn: Callable[..., Any]
    options: JobOptions
    name: str | None = None
    version: str | None = None
    trigger: Any = None
    kind: str = "function"  # "function", "reaction" (add_worker) or "durable"
    # Flow control (conveyor.flow): global limits, limit groups, where attempts run.
    concurrency: int | None = None
    rate: Rate | None = None
    concurrency_key: KeySpec | None = None
    isolation: str = "thread"
    is_async: bool = field(init=False)
    wants: frozenset[str] = field(init=False)
    # The signature callers fill in (injected parameters removed); None = not checkable.
    accepts: inspect.Signature | None = field(init=False)
    # (required, at most) positional arguments, when the signature is only plain
    # parameters: calls with that many positional arguments bind without inspect.
    arity: tuple[int, int] | None = field(init=False, repr=False)
    # The own positional parameters, passed by name, when an injected one comes first
    # (``def job(meta, path)``); empty otherwise.
    by_name: tuple[str, ...] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self.is_async = is_async_callable(self.fn)
        try:
            signature = inspect.signature(self.fn)
        except (TypeError, ValueError):
            signature = None
        params = signature.parameters if signature else {}
        self.wants = frozenset(p for p in INJECTED if p in params)
        self.accepts = None
        if signature is not None and self.kind == "function":
            self.accepts = signature.replace(
                parameters=[p for n, p in params.items() if n not in self.wants]
            )
        self.arity = _arity(self.accepts)
        self.by_name = by_name(self.id, params, self.wants) if self.accepts else ()
        if "io" in self.wants and self.kind == "function":
            self.kind = "durable"
        if "ctx" in self.wants and self.kind == "function":
            raise ConfigurationError(
                f"job {self.id!r} takes ctx, which only durable jobs (with an io parameter) "
                "get; add io, or use meta (meta.job, meta.attempt)"
            )
        self.__doc__ = getattr(self.fn, "__doc__", None)

    @property
    def slug(self) -> str:
        return slugify(self.id)

    @property
    def display_name(self) -> str:
        return self.name or self.id

    def __call__(self, *args: Any, **kwargs: Any) -> JobCall:
        bad = sorted(set(kwargs) & self.wants) if kwargs else None
        if bad:
            raise ConfigurationError(
                f"{bad[0]!r} is filled in by the worker; do not pass it when calling {self.id!r}"
            )
        arity = self.arity
        if self.accepts is not None and not (
            arity and not kwargs and arity[0] <= len(args) <= arity[1]
        ):
            try:
                self.accepts.bind(*args, **kwargs)
            except TypeError as exc:
                chained = self.input_problem(args, kwargs)
                also = (f"; with the previous result first, as inside a chain: {chained}"
                        if chained is not None and chained != str(exc) else "")
                problem = (
                    f"job {self.id!r} cannot be called with these arguments ({exc}{also}); "
                    f"it takes {self.accepts}"
                )
                if chained is not None:
                    raise ArgumentsError(problem) from None
                # Valid inside conveyor.chain, which hands it the previous result first.
                return JobCall(self, args, kwargs, problem)
        return JobCall(self, args, kwargs)

    def arguments(self, args: list[Any], kwargs: dict[str, Any]
                  ) -> tuple[list[Any], dict[str, Any]]:
        """The stored arguments as the function is called with them (injected ones added
        by name): positional ones by name when an injected parameter comes first."""
        return named(self.by_name, args, kwargs)

    def takes_input(self, args: tuple[Any, ...], kwargs: dict[str, Any]) -> bool:
        """Whether a call with one more leading positional argument binds (a chain member
        receiving the previous result)."""
        return self.input_problem(args, kwargs) is None

    def input_problem(self, args: tuple[Any, ...], kwargs: dict[str, Any]) -> str | None:
        """Why a call with one more leading positional argument (a chain member receiving
        the previous result) does not bind, or None when it does."""
        if self.accepts is None:
            return None
        try:
            self.accepts.bind(None, *args, **kwargs)
        except TypeError as exc:
            return str(exc)
        return None

    def __repr__(self) -> str:
        return f"<job {self.id!r}>"


def _arity(signature: inspect.Signature | None) -> tuple[int, int] | None:
    if signature is None:
        return None
    params = signature.parameters.values()
    if any(p.kind is not inspect.Parameter.POSITIONAL_OR_KEYWORD for p in params):
        return None
    return sum(p.default is inspect.Parameter.empty for p in params), len(params)


@dataclass(frozen=True)
class JobCall:
    """A job with its arguments, ready to be stored by one of the run methods."""

    definition: JobDefinition
    args: tuple[Any, ...]
    kwargs: dict[str, Any]
    # Why the call cannot run alone (it lacks the argument a chain hands it), else None.
    missing: str | None = None

    def run_now(self, **options: Unpack[CallOptions]) -> JobHandle:
        """Store the job to run as soon as a worker is free."""
        return self.definition.app.triggering.trigger(self, None, 0.0, options)

    def run_at(self, when: datetime, **options: Unpack[CallOptions]) -> JobHandle:
        """Store the job to run at ``when`` (aware; naive means UTC under a UTC app)."""
        due = storable_due(to_utc(when, self.definition.app.timezone))
        return self.definition.app.triggering.trigger(self, due, 0.0, options)

    def run_in(
        self, n: float | timedelta, unit: str = "seconds", **options: Unpack[CallOptions]
    ) -> JobHandle:
        """Store the job to run ``n`` units from now (calendar steps for month and up), or
        a ``timedelta`` from now."""
        if isinstance(n, timedelta):
            if normalize_unit(unit) != "second":
                raise ConfigurationError(
                    f"run_in({n!r}, {unit!r}): a timedelta carries its own unit; "
                    "give the timedelta alone, or a number and a unit")
            n = n.total_seconds()
        unit = normalize_unit(unit)
        check_amount(n, unit)
        seconds = fixed_seconds(n, unit)
        if seconds is not None:
            if seconds > UNCHECKED_DELAY:  # refuse a due time past year 9999, as steps do
                storable_due(add_interval(clock_now(self.definition.app.clock), n, unit))
            return self.definition.app.triggering.trigger(self, None, seconds, options)
        app = self.definition.app
        due = storable_due(add_interval(clock_now(app.clock), n, unit, app.timezone))
        return self.definition.app.triggering.trigger(self, due, 0.0, options)



class JobHandle:
    """A stored job. Awaiting a handle gives the handle back."""

    __slots__ = ("app", "id")

    def __init__(self, app: JobHost, job_id: int) -> None:
        self.app = app
        self.id = job_id

    def __await__(self) -> Generator[Any, None, JobHandle]:
        return self._self().__await__()

    async def _self(self) -> JobHandle:
        return self

    def __repr__(self) -> str:
        return f"<JobHandle {self.id}>"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, JobHandle) and other.id == self.id and other.app is self.app

    def __hash__(self) -> int:
        return hash(self.id)

    def record(self) -> JobRecord | None:
        """The job as stored now."""
        return self.app.get_job(self.id)

    @property
    def state(self) -> str | None:
        found = self.app.store.state_of(self.id)
        return found[0] if found else None

    def cancel(self) -> bool:
        return self.app.cancel(self.id)

    def _outcome(self, found: tuple[str, str | None, str | None] | None) -> tuple[bool, Any]:
        if found is None:
            raise JobFailed(self.id, "missing", {"message": "the job no longer exists"})
        state, result, error = found
        if state == "completed":
            return True, read_stored(result)
        if state in ("failed", "cancelled"):
            raise JobFailed(self.id, state, read_error(error))
        return False, state

    def result(self, timeout: float | None = None) -> Any:
        """Block until the job finishes; return its result or raise JobFailed/TimeoutError."""
        for pause in poll_pauses(timeout):
            done, value = self._outcome(self.app.store.state_of(self.id))
            if done:
                return value
            if pause is None:
                raise TimeoutError(
                    f"job {self.id} did not finish within {timeout} s (state: {value})"
                )
            time.sleep(pause)
        raise AssertionError("unreachable")

    async def wait(self, timeout: float | None = None) -> Any:
        """Async form of :meth:`result`."""
        for pause in poll_pauses(timeout):
            done, value = self._outcome(await state_of(self.app.store, self.id))
            if done:
                return value
            if pause is None:
                raise TimeoutError(
                    f"job {self.id} did not finish within {timeout} s (state: {value})"
                )
            await asyncio.sleep(pause)
        raise AssertionError("unreachable")


def poll_pauses(timeout: float | None) -> Iterator[float | None]:
    """Growing pauses between polls; None once the timeout has passed."""
    if timeout is not None and (  # NaN too: it would never pass
            isinstance(timeout, bool) or not isinstance(timeout, (int, float))
            or not timeout >= 0):
        raise ValueError(
            f"timeout must be None or a number of seconds >= 0, not {timeout!r}")
    deadline = None if timeout is None else time.monotonic() + timeout
    pause = 0.002
    while True:
        if deadline is not None and time.monotonic() >= deadline:
            yield None
            return
        left = pause if deadline is None else min(pause, max(deadline - time.monotonic(), 0))
        yield left
        pause = min(pause * 1.5, 0.1)
