"""Trigger options: validated once, then turned into the row a store inserts."""

from __future__ import annotations

import json
import math
import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import timedelta
from functools import cached_property
from typing import Any, TypedDict

from conveyor.errors import ConfigurationError, UnknownOptionError
from conveyor.priority import priority_value
from conveyor.retry import Retry, coerce_retry
from conveyor.text import check_identifier, check_text
from conveyor.timeunits import parse_duration

Duration = float | timedelta | str | None  # seconds, a timedelta or text ("7 days")


class StoreOptions(TypedDict, total=False):
    """Options every trigger takes (checked again at run time: a bad value is a
    :class:`~conveyor.ConfigurationError` that says what is accepted)."""

    queue: str | None
    replace: bool  # cancel the pending jobs of this id, key and owner first
    unique: bool  # keep a pending job of this id, key and owner instead
    timeout: Duration
    retention: Duration
    remove_delay: Duration


class TriggerOptions(StoreOptions, total=False):
    """The options of every trigger (SPEC §3): ``job(x).run_now(priority="high")``."""

    priority: int | str | None  # low, normal, medium, high, critical or an int
    key: str | None
    retry: Retry | int | dict[str, Any] | None
    owner: str | int | None  # 0 or None: the system


class CallOptions(TriggerOptions, total=False):
    """``run_now``/``run_at``/``run_in``: also ``connection=`` (store the job in the
    caller's open transaction) and ``depends_on=`` (handles or ids to run after)."""

    connection: Any
    depends_on: Any


class ScheduleJobOptions(StoreOptions, total=False):
    """``app.schedule_job(...)``'s further options (``tz``, ``misfire``: with
    ``schedule=``)."""

    connection: Any
    depends_on: Any
    tz: str | None
    misfire: Duration


class CronJobOptions(ScheduleJobOptions, total=False):
    """``app.schedule_cron_job(...)``'s further options."""

    retry: dict[str, Any] | Retry | int | None
    priority: int | str | None
    key: str | None
    cancel_repeats: bool


OPTION_NAMES = (
    "priority", "queue", "key", "replace", "unique", "retry", "timeout", "retention",
    "remove_delay", "owner",
)


# Semantic Versioning 2.0.0 (https://semver.org), as its own recommended expression.
_SEMVER = re.compile(
    r"(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)"
    r"(?:-((?:0|[1-9]\d*|\d*[a-zA-Z-][0-9a-zA-Z-]*)(?:\.(?:0|[1-9]\d*|\d*[a-zA-Z-][0-9a-zA-Z-]*))*))?"
    r"(?:\+([0-9a-zA-Z-]+(?:\.[0-9a-zA-Z-]+)*))?"
)


def coerce_version(value: Any) -> str | None:
    """A job's ``version=``: None or a semantic version string like ``"1.2.0"``."""
    if value is None:
        return None
    if not isinstance(value, str) or not _SEMVER.fullmatch(value):
        raise ConfigurationError(
            f"invalid version {value!r}; accepted: a semantic version like '1.2.0', "
            "'2.0.0-beta.1' or '1.0.0+build.5' (MAJOR.MINOR.PATCH)"
        )
    return value


def coerce_name(value: Any) -> str | None:
    """A job's ``name=`` (its display name in the dashboard and the CLI): None or text."""
    if value is None:
        return None
    if not isinstance(value, str):
        raise ConfigurationError(
            f"invalid name {value!r}; accepted: a str (the job's display name) or None"
        )
    return check_text(value, "name")


def flag(name: str, value: object) -> bool:
    """A yes/no option: True/False (None, 0 and 1 too); a str such as "no" is refused
    rather than read as true."""
    if value is None or value is True or value is False or (
            type(value) is int and value in (0, 1)):
        return bool(value)
    raise ConfigurationError(f"invalid {name} {value!r}; accepted: True or False")


def coerce_owner(owner: object) -> str | None:
    """The seed's userId: 0 or None mean the system; anything else is kept as text."""
    if owner is None or owner == 0 or owner == "":
        return None
    if isinstance(owner, int) and not isinstance(owner, bool) and owner.bit_length() > 14000:
        raise ConfigurationError(  # (no str() of it: Python refuses past 4300 digits)
            "invalid owner: an int of over 4000 digits; accepted: a str (without NUL "
            "characters) or int id, 0 or None"
        )
    if isinstance(owner, (str, int)) and not isinstance(owner, bool) and "\x00" not in str(owner):
        return check_identifier(str(owner), "owner")
    raise ConfigurationError(
        f"invalid owner {owner!r}; accepted: a str (without NUL characters) or int id, 0 or None"
    )


def coerce_seconds(name: str, value: float | timedelta | str | None) -> float | None:
    try:
        seconds = parse_duration(value)
    except ConfigurationError as exc:
        raise ConfigurationError(f"invalid {name}: {exc}") from None
    if seconds is not None and (seconds < 0 or not math.isfinite(seconds)):
        raise ConfigurationError(f"invalid {name} {value!r}: must be a finite duration >= 0")
    return seconds


def coerce_queue(queue: object) -> str:
    return "default" if queue is None else queue_name(queue)


def queue_name(queue: object) -> str:
    if not isinstance(queue, str) or not queue.strip() or "\x00" in queue:
        raise ConfigurationError(
            f"invalid queue {queue!r}; accepted: a str that is not blank, without NUL characters"
        )
    return check_identifier(queue, "queue")


def worker_concurrency(concurrency: object) -> int:
    """How many jobs one worker runs at once: an int >= 1."""
    if not isinstance(concurrency, int) or isinstance(concurrency, bool) or concurrency < 1:
        raise ConfigurationError(f"concurrency must be an int >= 1, got {concurrency!r}")
    return concurrency


def coerce_queues(queues: object) -> list[str] | None:
    """The queues a worker takes jobs from: None (every queue), names, or one
    comma-separated str ("a,b"); never an empty selection."""
    if queues is None:
        return None
    if isinstance(queues, str):
        queues = [q.strip() for q in queues.split(",") if q.strip()]
    elif isinstance(queues, (bytes, dict)) or not isinstance(queues, Iterable):
        raise ConfigurationError(
            f"invalid queues {queues!r}; accepted: a list of queue names, a comma-separated "
            "str like 'a,b', or None for every queue"
        )
    names = [queue_name(q) for q in queues]
    if not names:
        raise ConfigurationError(
            f"queues={queues!r} names no queue; give at least one queue name, or None for "
            "every queue"
        )
    return list(dict.fromkeys(names))


@dataclass(frozen=True)
class JobOptions:
    """Validated options a job is stored with."""

    priority: int = 0
    queue: str = "default"
    key: str | None = None
    dedupe: str | None = None
    retry: Retry | None = None
    timeout: float | None = None
    retention: float | None = None
    remove_delay: float | None = None
    owner: str | None = None  # as text: filters and dedupe match 42 and "42" alike
    owner_int: bool = False  # given as an int: read back as one

    @cached_property
    def retry_json(self) -> str | None:
        return json.dumps(self.retry.to_json()) if self.retry else None

    @property
    def max_attempts(self) -> int:
        return self.retry.max_attempts if self.retry else 1


def merge_options(base: JobOptions, given: dict[str, Any]) -> JobOptions:
    """Apply trigger-time options over a definition's defaults; refuse unknown names."""
    unknown = sorted(set(given) - set(OPTION_NAMES))
    if unknown:
        raise UnknownOptionError(
            f"unknown trigger option {unknown[0]!r}; accepted: {', '.join(OPTION_NAMES)}, "
            "connection, depends_on"
        )
    replace, unique = flag("replace", given.get("replace")), flag("unique", given.get("unique"))
    if replace and unique:
        raise ConfigurationError("replace=True and unique=True cannot be combined; pick one")
    key = given.get("key", base.key)
    if key is not None and (not isinstance(key, str) or "\x00" in key):
        raise ConfigurationError(
            f"invalid key {key!r}; accepted: a str without NUL characters, or None"
        )
    if key is not None:
        check_identifier(key, "key")
    return JobOptions(
        priority=priority_value(given["priority"]) if "priority" in given else base.priority,
        queue=coerce_queue(given["queue"]) if "queue" in given else base.queue,
        key=key,
        dedupe="replace" if replace else "unique" if unique else base.dedupe,
        retry=coerce_retry(given["retry"]) if "retry" in given else base.retry,
        timeout=coerce_seconds("timeout", given["timeout"]) if "timeout" in given
        else base.timeout,
        retention=coerce_seconds("retention", given["retention"]) if "retention" in given
        else base.retention,
        remove_delay=coerce_seconds("remove_delay", given["remove_delay"])
        if "remove_delay" in given else base.remove_delay,
        **(_owner(given["owner"]) if "owner" in given
           else {"owner": base.owner, "owner_int": base.owner_int}),
    )


def _owner(owner: object) -> dict[str, Any]:
    """``JobOptions``' owner fields for a given ``owner=``."""
    text = coerce_owner(owner)
    return {"owner": text, "owner_int": text is not None and isinstance(owner, int)}
