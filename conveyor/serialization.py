"""JSON in and out for payloads and results; refuses what JSON cannot hold faithfully.

``dumps`` runs on the enqueue hot path, so the happy path is one call of a prebuilt C
encoder plus a quick check of dict keys (the encoder would silently turn int, float,
bool and None keys into strings). Only when something is refused is the value walked
again, to name the offending path. The encoder keeps no circular-reference markers (so
one instance is safe to share between threads); a cycle shows up as a RecursionError
and is then named by the walk.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Mapping
from typing import Any, Final, NoReturn

from conveyor.errors import PayloadError

__all__ = ["dumps", "loads", "payload_of"]

_ACCEPTED: Final = "accepted: dict with str keys, list, tuple, str, int, float, bool, None"

# What to pass instead of a refused type, by type name.
_HINTS: Final[dict[str, str]] = {
    "datetime": "pass an ISO string or a number",
    "date": "pass an ISO string",
    "time": "pass an ISO string",
    "timedelta": "pass a number of seconds",
    "Decimal": "pass a str or a float",
    "UUID": "pass str(uuid)",
    "bytes": "pass a str (e.g. base64 or text decoded from the bytes)",
    "bytearray": "pass a str (e.g. base64 or text decoded from the bytes)",
    "memoryview": "pass a str (e.g. base64 or text decoded from the bytes)",
    "set": "pass a list",
    "frozenset": "pass a list",
    "complex": "pass two floats",
}


class _Refused(Exception):
    """Internal: the encoder met a value of a type JSON cannot hold."""


def _refuse(value: object) -> NoReturn:
    raise _Refused


def _make_encoder() -> Callable[[Any], str]:
    c_make_encoder = getattr(json.encoder, "c_make_encoder", None)
    if c_make_encoder is None:  # pragma: no cover - CPython always has the C encoder
        return json.JSONEncoder(
            ensure_ascii=False,
            check_circular=False,
            allow_nan=False,
            separators=(",", ":"),
            default=_refuse,
        ).encode
    # Same arguments JSONEncoder.iterencode passes: markers (None: no cycle check),
    # default, str encoder, indent, key separator, item separator, sort_keys, skipkeys,
    # allow_nan.
    chunks = c_make_encoder(
        None, _refuse, json.encoder.encode_basestring, None, ":", ",", False, False, False
    )

    def encode(value: Any) -> str:
        return "".join(chunks(value, 0))

    return encode


_encode: Final = _make_encoder()
_SCALARS: Final = frozenset({str, int, float, bool, type(None)})


def dumps(value: Any, what: str = "payload") -> str:
    """Encode ``value`` as compact JSON or raise ``PayloadError`` naming what JSON refused.

    ``what`` names the value in messages: ``dumps(args, "payload args")`` reports
    ``payload args[0]['when'] is a datetime, ...``. Tuples are stored as lists.
    """
    try:
        text: str | None = _encode(value)
        bad_keys = _bad_keys(value)
    except (_Refused, ValueError, TypeError, RecursionError):
        text = None
    if text is None or bad_keys:
        _explain(value, what)
    return text


def loads(text: str | None) -> Any:
    """Decode JSON text; ``None`` stays ``None``."""
    if text is None:
        return None
    return json.loads(text)


def payload_of(args: tuple[Any, ...] | list[Any], kwargs: dict[str, Any]) -> Any:
    """A job's payload: its single positional argument, else its keyword arguments (a dict)."""
    if len(args) == 1 and not kwargs:
        return args[0]
    return dict(kwargs)


def _bad_keys(value: Any) -> bool:
    """Whether a dict inside ``value`` has a key that is not a str (for encodable values)."""
    items: Any
    if isinstance(value, dict):
        try:
            "".join(value)  # the keys, checked in C: TypeError unless all are str
        except TypeError:
            return True
        items = value.values()
    elif isinstance(value, list | tuple):
        items = value
    else:
        return False
    for item in items:  # noqa: SIM110 - a plain loop is faster than any() here
        if type(item) not in _SCALARS and _bad_keys(item):
            return True
    return False


def _explain(value: Any, what: str) -> NoReturn:
    """Raise the ``PayloadError`` for the first thing in ``value`` that JSON refuses."""
    try:
        _walk(value, what, set())
    except RecursionError:
        raise PayloadError(f"{what} is nested too deeply to store as JSON") from None
    # The encoder refused something the walk accepts: report the encoder's own words.
    try:
        _encode(value)
    except Exception as exc:
        raise PayloadError(f"{what} cannot be stored as JSON: {exc}") from None
    raise PayloadError(f"{what} cannot be stored as JSON")  # pragma: no cover


def _walk(value: Any, path: str, seen: set[int]) -> None:
    if value is None or isinstance(value, str | bool):
        return
    if isinstance(value, int):
        try:
            int.__repr__(value)
        except ValueError:  # past sys.get_int_max_str_digits()
            raise PayloadError(
                f"{path} is an int too long to write as JSON text; pass it as a str ({_ACCEPTED})"
            ) from None
        return
    if isinstance(value, float):
        if not math.isfinite(value):
            raise PayloadError(
                f"{path} is {value!r}, which JSON cannot hold; pass a finite number, "
                f"None or a str ({_ACCEPTED})"
            )
        return
    if isinstance(value, dict | list | tuple):
        if id(value) in seen:
            raise PayloadError(
                f"{path} is a circular reference (a container inside itself), which JSON "
                f"cannot hold ({_ACCEPTED})"
            )
        seen.add(id(value))
        if isinstance(value, Mapping):
            for key, item in value.items():
                if not isinstance(key, str):
                    raise PayloadError(
                        f"{path} has the key {key!r}, which is {_a(key)}, not a str; JSON "
                        f"object keys must be str ({_ACCEPTED})"
                    )
                _walk(item, f"{path}[{str.__repr__(key)}]", seen)
        else:
            for index, item in enumerate(value):
                _walk(item, f"{path}[{index}]", seen)
        seen.discard(id(value))
        return
    name = type(value).__name__
    hint = _HINTS.get(name, "pass plain data (e.g. a dict of its fields)")
    raise PayloadError(f"{path} is {_a(value)}, which JSON cannot hold; {hint} ({_ACCEPTED})")


_ARTICLES: Final = {"UUID": "a UUID", "NoneType": "None", "bytes": "bytes"}


def _a(value: object) -> str:
    """``"a datetime"`` / ``"an int"``: the type name of ``value`` with its article."""
    name = type(value).__name__
    if name in _ARTICLES:
        return _ARTICLES[name]
    return f"{'an' if name[:1].lower() in 'aeiou' else 'a'} {name}"
