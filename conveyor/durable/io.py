"""``io``: what a durable job calls to take steps that survive crashes and replays."""

from __future__ import annotations

import functools
import hashlib
import inspect
import json
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from conveyor.clock import after_delay
from conveyor.durable import fetch
from conveyor.durable.engine import Run, fingerprint
from conveyor.errors import ConfigurationError, PayloadError, Suspend
from conveyor.eventfilters import check_filter
from conveyor.options import coerce_seconds
from conveyor.redaction import redact, redact_text
from conveyor.retry import Retry, coerce_retry
from conveyor.serialization import dumps
from conveyor.text import MAX_IDENTIFIER_BYTES, MAX_LOG_LINE, clean, clean_name
from conveyor.timeunits import (
    FAR_FUTURE,
    UNCHECKED_DELAY,
    add_interval,
    check_amount,
    fixed_seconds,
    normalize_unit,
    storable_due,
)
from conveyor.worker.isolation import in_thread

# background_fetch retries 429/5xx and connection errors this way unless told otherwise.
FETCH_RETRY = Retry(retries=3, wait=1.0, backoff="exponential", max_wait=60.0)
NO_RETRY = Retry()


def _event_id(run_id: int, key: str) -> str:
    """``run-<run id>-<key>``; a digest of the key when that is longer than an event id may
    be (a step key may be any length)."""
    event_id = f"run-{run_id}-{key}"
    if len(event_id.encode()) <= MAX_IDENTIFIER_BYTES:
        return event_id
    return f"run-{run_id}-sha256-{hashlib.sha256(key.encode()).hexdigest()}"


class IO:
    """The ``io`` parameter of a durable job. Every method is a step: awaited once per key,
    stored, and handed back from the store when the run replays."""

    def __init__(self, run: Run) -> None:
        self._run = run
        self.logger = StepLogger(run)

    async def task(
        self, key: str, fn: Callable[..., Any], *args: Any, retry: Retry | int | None = None,
        **kwargs: Any,
    ) -> Any:
        """Run ``fn(*args, **kwargs)`` (sync or async) once for this run and key; its JSON
        result is stored and returned on every replay. ``retry`` retries it durably."""
        if not callable(fn):
            raise ConfigurationError(f"io.task({key!r}, fn): fn must be callable, got {fn!r}")
        policy = coerce_retry(retry) or NO_RETRY

        async def call(number: int, last: bool) -> Any:
            if inspect.iscoroutinefunction(fn):
                return await fn(*args, **kwargs)
            # A thread of its own (daemon), not the worker's pool: a step still running
            # when a stopping worker releases the run must not keep the process alive.
            result = await in_thread(f"conveyor-step-{self._run.id}-{key}",
                                     functools.partial(fn, *args, **kwargs))
            return await result if inspect.isawaitable(result) else result

        digest = fingerprint(getattr(fn, "__qualname__", None), args, kwargs)
        shown = _shown({"fn": getattr(fn, "__qualname__", repr(fn)), "args": args,
                        "kwargs": kwargs})
        return await self._run.attempt("task", key, digest, shown, call, policy)

    async def wait(self, key: str, n: float, unit: str = "seconds") -> None:
        """Sleep durably: the run releases its worker and resumes when due (any worker)."""
        unit = normalize_unit(unit)
        check_amount(n, unit)
        spec = json.dumps({"n": n, "unit": unit})
        run = self._run
        with run.step("wait", key, spec) as stored:
            if stored is not None and stored.state == "completed":
                return
            now = await run.now()
            if stored is not None:
                if stored.wake_at is None or now >= stored.wake_at:
                    stored.state, stored.finished_at = "completed", now
                    await run.save(stored)
                    return
                raise Suspend(stored.wake_at)
            seconds = fixed_seconds(n, unit)
            if seconds is not None and seconds <= UNCHECKED_DELAY:
                due = after_delay(now, seconds)
            else:  # a calendar step, or a time that may be past year 9999 (refused then)
                due = storable_due(add_interval(datetime.fromtimestamp(now, UTC), n, unit,
                                                run.app.timezone))
            await run.save(run.new_step("wait", key, spec, state="waiting", input=spec,
                                        wake_at=due))
            raise Suspend(due)

    async def wait_for_event(
        self, key: str, name: str, filter: dict[str, Any] | None = None,
        timeout: float | timedelta | str | None = None,
    ) -> dict[str, Any] | None:
        """Wait (without a worker) for an event ``name`` whose payload matches ``filter``;
        returns ``{"id", "name", "payload", "sent_at"}``, or None after ``timeout``."""
        name = _check_name(name)
        check_filter(filter)
        limit = coerce_seconds("timeout", timeout)
        spec = json.dumps({"name": name, "filter": filter}, sort_keys=True)
        run = self._run
        with run.step("event", key, spec) as stored:
            if stored is not None and stored.state == "completed":
                result: dict[str, Any] | None = run.stored(stored, "output", "null")
                return result
            now = await run.now()
            if stored is not None:
                if stored.wake_at is not None and now >= stored.wake_at:  # timed out
                    stored.state, stored.output, stored.finished_at = "completed", "null", now
                    await run.save(stored)
                    return None
                step, due = stored, stored.wake_at or FAR_FUTURE
            else:
                due = after_delay(now, limit) if limit is not None else FAR_FUTURE
                step = run.new_step("event", key, spec, state="waiting", input=spec,
                                    wake_at=due, event_name=name)
            # Stored and suspended in one transaction, so no event can slip in between.
            await run.save(step, suspend_until=due)
            raise Suspend(due)

    async def send_event(
        self, key: str, name: str, payload: Any = None, *,
        deliver_in: float | timedelta | str | None = None, id: str | None = None,
    ) -> str:
        """Send an event once per run and key (its id defaults to one derived from both,
        so a replay or a crash cannot send it twice); returns the event id."""
        from conveyor.events import send

        name = _check_name(name)
        delay = coerce_seconds("deliver_in", deliver_in)
        run = self._run
        text = dumps(payload, "event payload", run.app.limits)
        with run.step("send_event", key, fingerprint(name, text)) as stored:
            if stored is not None and stored.state == "completed":
                return str(run.stored(stored, "output", "null"))
            if delay is not None and delay > UNCHECKED_DELAY:  # past year 9999? as io.wait
                storable_due(add_interval(datetime.fromtimestamp(await run.now(), UTC), delay,
                                          "seconds"))
            event_id = id or _event_id(run.id, key)
            await run.call(send, run.app, name, text, event_id, delay, run.id)
            await run.save(run.new_step(
                "send_event", key, fingerprint(name, text), output=json.dumps(event_id),
                input=json.dumps({"name": name, "id": event_id, "deliver_in": delay}),
            ))
            return event_id

    async def background_fetch(
        self, key: str, url: str, *, method: str = "GET", headers: dict[str, str] | None = None,
        json: Any = None, retry: Retry | int | None = None, timeout: float = 30.0,
    ) -> dict[str, Any]:
        """HTTP request as a step, awaited without holding a thread; retries 429/5xx
        (honouring ``Retry-After``) and connection errors durably. Returns ``{"status",
        "url", "headers", "body"}`` (body parsed when JSON). Non-http(s) URLs and, unless
        the app allows it, private addresses are refused (:class:`FetchRefused`)."""
        request = fetch.FetchRequest(url, method, dict(headers or {}), json, timeout)
        dumps(json, "fetch json body", self._run.app.limits)
        allow = self._run.app.allow_private_fetch
        policy = coerce_retry(retry) or FETCH_RETRY
        shown = request.describe()

        async def call(number: int, last: bool) -> Any:
            return await fetch.perform(request, allow, last)

        result: dict[str, Any] = await self._run.attempt(
            "fetch", key, fingerprint(shown), shown, call, policy
        )
        return result

    async def run_job(self, key: str, call: Any) -> Any:
        """Start ``call`` (e.g. ``resize("a.png")``) as a child run, once per run and key,
        and wait for it without holding a worker; returns its result or raises
        :class:`conveyor.JobFailed` if it failed or was cancelled."""
        from conveyor.durable.children import run_children

        return (await run_children(self._run, "run_job", key, [call]))[0]

    async def run_jobs(self, key: str, calls: Sequence[Any]) -> list[Any]:
        """Start every call as a child run at once (any workers take them) and wait for
        all; returns their results in order, or raises :class:`conveyor.JobFailed` for
        the first that failed or was cancelled."""
        from conveyor.durable.children import run_children

        return await run_children(self._run, "run_jobs", key, list(calls))

    async def try_(self, fn: Callable[[], Any], on_error: Callable[[Exception], Any]) -> Any:
        """``await fn()``; if it raises, return ``on_error(exc)`` (awaited if async).
        conveyor's interrupts are never handed to ``on_error``."""
        try:
            result = fn()
            return await result if inspect.isawaitable(result) else result
        except Exception as exc:
            if self._run.fatal is not None:
                raise
            handled = on_error(exc)
            return await handled if inspect.isawaitable(handled) else handled


class StepLogger:
    """``io.logger``: log lines stored as steps (written once, not again on replay) and
    copied to the run's log."""

    def __init__(self, run: Run) -> None:
        self._run = run

    async def _log(self, level: str, message: str, fields: dict[str, Any]) -> None:
        run = self._run
        with run.step("log", level, None) as stored:
            if stored is not None:
                return
            text = redact_text(clean(message, MAX_LOG_LINE))
            try:
                plain = json.loads(dumps(fields, "log fields", run.app.limits))
            except PayloadError:  # a log line is always stored: odd fields as their repr
                plain = {clean(k, 200): clean(repr(v), MAX_LOG_LINE) for k, v in fields.items()}
            shown = redact(plain)
            data = json.dumps({"message": text, "fields": shown})
            await run.save(run.new_step("log", level, None, input=data))
            extra = " ".join(f"{k}={v!r}" for k, v in shown.items())
            getattr(run.meta.log, level)(f"{text} {extra}" if extra else text)

    async def debug(self, message: str, properties: Mapping[str, Any] | None = None, /,
                    **fields: Any) -> None:
        await self._log("debug", message, _fields(properties, fields))

    async def info(self, message: str, properties: Mapping[str, Any] | None = None, /,
                   **fields: Any) -> None:
        await self._log("info", message, _fields(properties, fields))

    log = info  # Trigger.dev's spelling

    async def warn(self, message: str, properties: Mapping[str, Any] | None = None, /,
                   **fields: Any) -> None:
        await self._log("warning", message, _fields(properties, fields))

    warning = warn

    async def error(self, message: str, properties: Mapping[str, Any] | None = None, /,
                    **fields: Any) -> None:
        await self._log("error", message, _fields(properties, fields))


def _fields(properties: Any, fields: dict[str, Any]) -> dict[str, Any]:
    """A line's fields: keyword arguments, or Trigger.dev's ``properties`` dict (both
    merged, the keywords last)."""
    if properties is None:
        return fields
    if not isinstance(properties, Mapping):
        raise ConfigurationError(
            f"io.logger takes the message, then its fields as keyword arguments or one dict "
            f"(Trigger.dev's properties), not {type(properties).__name__} {properties!r}"
        )
    return {**{str(k): v for k, v in properties.items()}, **fields}


def _check_name(name: Any) -> str:
    return clean_name(name)


def _shown(value: Any) -> str | None:
    """JSON shown in the dashboard for a step's input (None if it is not JSON), with
    secrets redacted before it is stored."""
    try:
        text = json.dumps(redact(value), default=repr)
    except (TypeError, ValueError):
        return None
    return text if len(text) <= 10_000 else json.dumps(text[:10_000] + "…")
