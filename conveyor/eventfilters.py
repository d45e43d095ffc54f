"""EventBridge-style event filters, e.g. ``{"plan": ["pro"], "age": [{"numeric": [">=", 18]}]}``.

A filter maps a payload field to a list of allowed values (any one may match) or to a
nested filter. Besides plain values (str, number, bool, None) a list may hold matchers:
``{"prefix": "ab"}``, ``{"suffix": ".png"}``, ``{"equals-ignore-case": "x"}``,
``{"anything-but": value or [values]}``, ``{"numeric": [">", 0, "<=", 5]}`` and
``{"exists": true|false}``. A payload field holding a list matches when any item does.
"""

from __future__ import annotations

import math
from typing import Any

from conveyor.errors import ConfigurationError

MATCHERS = ("prefix", "suffix", "equals-ignore-case", "anything-but", "numeric", "exists")
_COMPARE = {
    "=": lambda a, b: a == b, "<": lambda a, b: a < b, "<=": lambda a, b: a <= b,
    ">": lambda a, b: a > b, ">=": lambda a, b: a >= b,
}
_MISSING = object()
_EXAMPLE = "e.g. {'plan': ['pro', 'team'], 'user': {'age': [{'numeric': ['>=', 18]}]}}"


def check_filter(flt: Any, path: str = "") -> dict[str, Any]:
    """Validate a filter (None = match everything); returns it as a dict."""
    if flt is None:
        return {}
    if not isinstance(flt, dict):
        raise ConfigurationError(
            f"event filter{_at(path)} must be a dict of field -> list of allowed values, "
            f"got {flt!r}; {_EXAMPLE}"
        )
    for field, rule in flt.items():
        where = f"{path}.{field}" if path else str(field)
        if not isinstance(field, str):
            raise ConfigurationError(f"event filter field names must be str, got {field!r}")
        if isinstance(rule, dict):
            check_filter(rule, where)
        elif isinstance(rule, list) and rule:
            for value in rule:
                _check_value(value, where)
        else:
            raise ConfigurationError(
                f"event filter for {where!r} must be a non-empty list of allowed values or "
                f"a nested dict, got {rule!r}; {_EXAMPLE}"
            )
    return flt


def _at(path: str) -> str:
    return f" for {path!r}" if path else ""


def _check_value(value: Any, where: str) -> None:
    if value is None or isinstance(value, (str, bool, int, float)):
        return
    if not isinstance(value, dict) or len(value) != 1 or next(iter(value)) not in MATCHERS:
        raise ConfigurationError(
            f"event filter for {where!r} has an unknown value {value!r}; accepted: str, "
            f"number, bool, None or one matcher of {', '.join(MATCHERS)}"
        )
    (name, arg), = value.items()
    ok = {
        "prefix": isinstance(arg, str), "suffix": isinstance(arg, str),
        "equals-ignore-case": isinstance(arg, str), "exists": isinstance(arg, bool),
        "anything-but": arg is None or isinstance(arg, (str, int, float, list)),
        "numeric": _numeric_ok(arg),
    }[name]
    if not ok:
        raise ConfigurationError(
            f"event filter for {where!r}: invalid {name!r} matcher {value!r}; e.g. "
            "{'prefix': 'ab'}, {'exists': True}, {'anything-but': ['a', 'b']}, "
            "{'numeric': ['>', 0, '<=', 5]}"
        )


def _numeric_ok(arg: Any) -> bool:
    if not isinstance(arg, list) or not arg or len(arg) % 2:
        return False
    ops, nums = arg[0::2], arg[1::2]
    return all(op in _COMPARE for op in ops) and all(_is_number(n) for n in nums)


def _is_number(value: Any) -> bool:
    """A number a filter can compare: finite, and an int a float can hold (10**400 is
    not one; an event holding it simply does not match a numeric matcher)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return False
    try:
        return math.isfinite(value)
    except OverflowError:
        return False


def matches(flt: dict[str, Any], payload: Any) -> bool:
    """True when ``payload`` satisfies every field of ``flt``; never raises for any JSON
    payload (a value a matcher cannot compare does not match)."""
    for field, rule in flt.items():
        value = payload.get(field, _MISSING) if isinstance(payload, dict) else _MISSING
        if isinstance(rule, dict):
            if value is _MISSING or not matches(rule, value):
                return False
        elif not any(_allowed(allowed, value) for allowed in rule):
            return False
    return True


def _allowed(allowed: Any, value: Any) -> bool:
    if isinstance(allowed, dict) and "exists" in allowed:
        return (value is not _MISSING) is allowed["exists"]
    if value is _MISSING:
        return False
    if isinstance(value, list):
        return any(_allowed(allowed, item) for item in value)
    if not isinstance(allowed, dict):
        return _equal(allowed, value)
    (name, arg), = allowed.items()
    if name == "anything-but":
        options = arg if isinstance(arg, list) else [arg]
        return not any(_equal(o, value) for o in options)
    if name == "numeric":
        return _is_number(value) and all(
            _COMPARE[op](value, bound) for op, bound in zip(arg[0::2], arg[1::2], strict=True)
        )
    if not isinstance(value, str):
        return False
    if name == "prefix":
        return value.startswith(arg)
    if name == "suffix":
        return value.endswith(arg)
    return value.casefold() == str(arg).casefold()  # equals-ignore-case


def _equal(allowed: Any, value: Any) -> bool:
    if isinstance(allowed, bool) or isinstance(value, bool):
        return allowed is value
    return bool(allowed == value)
