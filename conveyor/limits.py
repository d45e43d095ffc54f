"""Flow-control options of a job definition, validated: rates, concurrency, limit keys,
isolation (pure; the app side is :mod:`conveyor.flow`)."""

from __future__ import annotations

import inspect
import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from types import CodeType
from typing import Any

from conveyor.errors import ConfigurationError
from conveyor.serialization import payload_of

RATE_UNITS = {"second": 1.0, "minute": 60.0, "hour": 3600.0, "day": 86400.0}
# Celery's rate_limit spellings ("10/s", "100/m", "1000/h") and common abbreviations.
_RATE_WORDS = {
    **{unit: unit for unit in RATE_UNITS}, **{unit + "s": unit for unit in RATE_UNITS},
    "s": "second", "sec": "second", "secs": "second", "m": "minute", "min": "minute",
    "mins": "minute", "h": "hour", "hr": "hour", "hrs": "hour", "d": "day",
}
_RATE = re.compile(r"\s*(\d+)\s*/\s*([a-z]+)\s*")
_RATE_HELP = (
    "accepted: 'N/unit' with N a whole number >= 1 and unit second, minute, hour or day "
    "(or s, m, h, d), e.g. '100/minute'"
)
ISOLATIONS = ("thread", "process")
KeySpec = str | Callable[[tuple[Any, ...], dict[str, Any]], Any]


@dataclass(frozen=True)
class Rate:
    """At most ``limit`` starts per sliding window of ``period`` seconds."""

    limit: int
    period: float
    text: str

    def __str__(self) -> str:
        return self.text


def parse_rate(value: object) -> Rate | None:
    """``"100/minute"`` -> Rate(100, 60.0); None stays None; anything else is refused."""
    if value is None:
        return None
    if isinstance(value, Rate):
        return value
    match = _RATE.fullmatch(value.lower()) if isinstance(value, str) else None
    unit = None if match is None else _RATE_WORDS.get(match[2])
    if match is None or unit not in RATE_UNITS or int(match[1]) < 1:
        raise ConfigurationError(f"invalid rate {value!r}; {_RATE_HELP}")
    limit = int(match[1])
    if limit >= 2**31:
        raise ConfigurationError(f"invalid rate {value!r}: {limit} is too large; {_RATE_HELP}")
    return Rate(limit, RATE_UNITS[unit], str(value).strip())  # shown as declared


def coerce_concurrency(value: object) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value < 2**31:
        raise ConfigurationError(
            f"invalid concurrency {value!r}; accepted: an int >= 1 (attempts running at "
            "once across all workers), or None for no limit"
        )
    return value


def coerce_key_spec(value: object) -> KeySpec | None:
    if value is None or callable(value):
        return value
    if isinstance(value, str) and "\x00" not in value and all(
        part.strip() for part in value.split(".")
    ):  # every field of a dotted path named
        return value
    raise ConfigurationError(
        f"invalid concurrency_key {value!r}; accepted: a payload field name (dotted path "
        "allowed, e.g. 'shop.id') or a callable (args, kwargs) -> str"
    )


def coerce_isolation(value: object) -> str:
    if value is None:
        return "thread"
    if value not in ISOLATIONS:
        raise ConfigurationError(
            f"invalid isolation {value!r}; accepted: 'thread' (default) or 'process'"
        )
    return str(value)


def concurrency_key(spec: KeySpec | None, args: tuple[Any, ...], kwargs: dict[str, Any],
                    signature: inspect.Signature | None = None) -> str | None:
    """The limit group of one call, evaluated at trigger time (None: the job's shared group).

    A field path is looked up in the payload (the single positional argument, else the
    keyword arguments), then among the function's arguments by parameter name; a missing
    field gives None."""
    if spec is None:
        return None
    if callable(spec):
        value = spec(args, kwargs)
    else:
        value = _lookup(payload_of(args, kwargs), spec)
        if value is None and signature is not None:
            try:
                value = _lookup(dict(signature.bind(*args, **kwargs).arguments), spec)
            except TypeError:
                value = None
    if value is None:
        return None
    text = value if isinstance(value, str) else str(value)
    if "\x00" in text:
        raise ConfigurationError(f"concurrency_key {text!r} contains a NUL character")
    return text


def _lookup(value: Any, path: str) -> Any:
    for part in path.split("."):
        if isinstance(value, dict) and part in value:
            value = value[part]
        elif isinstance(value, list) and part.isdigit() and int(part) < len(value):
            value = value[int(part)]
        else:
            return None
    return value


def nested(fn: Callable[..., Any]) -> bool:
    return "<locals>" in fn.__qualname__ or "<lambda>" in fn.__qualname__


def global_names(code: CodeType) -> set[str]:
    """Names a code object (and the code nested in it) may read as globals."""
    names = set(code.co_names)
    for const in code.co_consts:
        if isinstance(const, CodeType):
            names |= global_names(const)
    return names


def cannot_ship(fn: Callable[..., Any]) -> str | None:
    """Why a nested function cannot be rebuilt in a child (None: it can)."""
    if not nested(fn):
        return None
    if getattr(fn, "__code__", None) is None:
        return "is not a plain Python function"
    if fn.__code__.co_freevars:
        return (f"uses variables of the function it is defined in "
                f"({', '.join(fn.__code__.co_freevars)}); define it at module level")
    try:
        json.dumps(fn.__defaults__ or ())
    except (TypeError, ValueError):
        return "has default values that are not JSON; define it at module level"
    if fn.__kwdefaults__:
        return "has keyword-only defaults; define it at module level"
    return None
