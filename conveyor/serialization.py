"""JSON in and out for payloads and results; refuses what JSON cannot hold faithfully
and what breaks the app's limits (NUL, lone surrogates, ``max_depth``, ``max_payload``).

``dumps`` runs on the enqueue hot path, so the happy path is one call of a prebuilt C
encoder plus a quick check of dict keys (the encoder would silently turn int, float,
bool and None keys into strings). Only when something is refused is the value walked
again, to name the offending path. The limits cost one C scan of the text (NUL escape,
size, UTF-8) and a depth count in the key check walk. The encoder keeps no
circular-reference markers (so one instance is safe to share between threads); a cycle
shows up as a RecursionError and is then named by the walk.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Final, NoReturn

from conveyor.errors import ConfigurationError, ErrorInfo, PayloadError

__all__ = [
    "DEFAULT_LIMITS",
    "Limits",
    "as_error",
    "dumps",
    "loads",
    "payload_of",
    "read_error",
    "read_stored",
]

#: Highest ``max_depth`` accepted: deeper data would hit Python's recursion limit.
DEPTH_CEILING: Final = 500


@dataclass(frozen=True)
class Limits:
    """What a payload or result may be: nested at most ``max_depth`` containers deep and
    at most ``max_payload`` bytes of UTF-8 JSON (``Conveyor(max_depth=, max_payload=)``)."""

    max_depth: int = 64
    max_payload: int = 1 << 20

    def __post_init__(self) -> None:
        for name, low, high in (("max_depth", 1, DEPTH_CEILING),
                                ("max_payload", 16, 1 << 30)):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
                raise ConfigurationError(
                    f"invalid {name} {value!r}; accepted: an int from {low} to {high}"
                )


DEFAULT_LIMITS: Final = Limits()

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
_SMALL: Final = 10**15  # ints written without the encoder: at most 16 bytes, any max_payload
_quote: Final = json.encoder.encode_basestring  # a str as JSON, as the encoder writes it


def dumps(
    value: Any, what: str = "payload", limits: Limits = DEFAULT_LIMITS, *, outer: int = 0
) -> str:
    """Encode ``value`` as compact JSON or raise ``PayloadError`` naming what was refused.

    ``what`` names the value in messages: ``dumps(args, "payload args")`` reports
    ``payload args[0]["when"] is a datetime, ...``. Tuples are stored as lists. ``outer``
    containers wrap the user's value (an args list) and do not count toward the depth.
    """
    if value is None:  # most results
        return "null"
    kind = type(value)
    if kind is int and -_SMALL < value < _SMALL:  # ids, counts: nothing to check
        return int.__repr__(value)
    if kind is str:  # names, keys: only the limits to check
        quoted: str = _quote(value)
        if not _breaks_limits(quoted, limits):
            return quoted
    try:
        text: str | None = _encode(value)
        bad = _bad_keys(value, limits.max_depth + outer)
    except (_Refused, ValueError, TypeError, RecursionError):
        text = None
    if text is None or bad or _breaks_limits(text, limits):
        # Usually raises; a false alarm (a literal backslash-u0000 in a str) returns.
        text = _explain(value, what, limits, outer)
    return text


def _breaks_limits(text: str, limits: Limits) -> bool:
    """NUL (the encoder escapes it), a lone surrogate, or more than ``max_payload`` bytes."""
    if len(text) > limits.max_payload or "\\u0000" in text:
        return True
    if text.isascii():
        return False
    try:
        return len(text.encode()) > limits.max_payload
    except UnicodeEncodeError:
        return True


def loads(text: str | None) -> Any:
    """Decode JSON text; ``None`` stays ``None``."""
    if text is None:
        return None
    return json.loads(text)


def read_stored(text: str | None, default: Any = None) -> Any:
    """A stored JSON column as readers show it: text that is not JSON (a row written by
    hand or by other software) reads as the text itself, so no reader fails on it;
    ``None`` reads as ``default``."""
    if text is None:
        return default
    try:
        return json.loads(text)
    except (ValueError, RecursionError):
        return text


def read_error(text: str | None) -> ErrorInfo | None:
    """A stored error column as readers show it (see :func:`as_error`)."""
    return as_error(read_stored(text)) if text else None


_ERROR_KEYS = ("type", "message", "traceback", "module")


def as_error(value: Any) -> ErrorInfo | None:
    """A stored error (``{"type", "message", "traceback"}``); anything else stored in its
    place reads as the message of an error of no type."""
    if value is None:
        return None
    if isinstance(value, dict):
        # in the order the worker writes them: PostgreSQL's jsonb (the attempts'
        # history) keeps no key order
        return ErrorInfo({**{k: value[k] for k in _ERROR_KEYS if k in value}, **value})
    message = value if isinstance(value, str) else json.dumps(value)
    return ErrorInfo(type=None, message=message, traceback=None)


def payload_of(args: tuple[Any, ...] | list[Any], kwargs: dict[str, Any]) -> Any:
    """A job's payload: its single positional argument when it was called with one
    (keyword arguments or not), else its keyword arguments (a dict)."""
    if len(args) == 1:
        return args[0]
    return dict(kwargs)


def _bad_keys(value: Any, depth: int) -> bool:
    """Whether a dict inside ``value`` has a key that is not a str, or containers nest
    deeper than ``depth`` (for encodable values)."""
    items: Any
    if depth <= 0 and isinstance(value, dict | list | tuple):
        return True
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
        if type(item) not in _SCALARS and _bad_keys(item, depth - 1):
            return True
    return False


def _explain(value: Any, what: str, limits: Limits, outer: int) -> str:
    """Raise the ``PayloadError`` for the first thing in ``value`` that is refused; the
    JSON text when nothing is."""
    try:
        _walk(value, what, set(), limits.max_depth + outer, limits.max_depth)
    except RecursionError:
        raise PayloadError(f"{what} is nested too deeply to store as JSON") from None
    # The encoder refused something the walk accepts: report the encoder's own words.
    try:
        text = _encode(value)
    except Exception as exc:
        raise PayloadError(f"{what} cannot be stored as JSON: {exc}") from None
    size = len(text.encode())
    if size > limits.max_payload:
        raise PayloadError(
            f"{what} is {size} bytes as JSON, more than max_payload={limits.max_payload} "
            "bytes; store large data elsewhere (a file or object store) and pass its "
            "name, or raise Conveyor(max_payload=...)"
        )
    return text


def _walk(value: Any, path: str, seen: set[int], depth: int, limit: int) -> None:
    if value is None or isinstance(value, bool):
        return
    if isinstance(value, str):
        _check_text(value, path)
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
        if depth <= 0:
            shown = path if len(path) <= 120 else f"{path[:80]}…{path[-30:]}"
            raise PayloadError(
                f"{shown} is nested deeper than max_depth={limit} levels of lists and dicts; "
                "flatten the data or raise Conveyor(max_depth=...)"
            )
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
                _check_text(key, f"{path} key {_show(key)}")
                _walk(item, f"{path}[{_show(key)}]", seen, depth - 1, limit)
        else:
            for index, item in enumerate(value):
                _walk(item, f"{path}[{index}]", seen, depth - 1, limit)
        seen.discard(id(value))
        return
    name = type(value).__name__
    hint = _HINTS.get(name, "pass plain data (e.g. a dict of its fields)")
    raise PayloadError(f"{path} is {_a(value)}, which JSON cannot hold; {hint} ({_ACCEPTED})")


def _show(key: str) -> str:
    """A dict key as it appears in a path: JSON-quoted, readable text as it is (``"ç"``),
    NUL, surrogates and other unprintable characters escaped."""
    quoted = json.dumps(key if len(key) <= 60 else key[:60] + "…", ensure_ascii=False)
    return "".join(ch if ch.isprintable() else json.dumps(ch)[1:-1] for ch in quoted)


def _check_text(text: str, path: str) -> None:
    if "\x00" in text:
        raise PayloadError(
            f"{path} contains a NUL character (\\u0000), which conveyor does not store "
            "(PostgreSQL refuses it); remove it or encode the data (e.g. base64)"
        )
    if not text.isascii():
        try:
            text.encode()
        except UnicodeEncodeError as exc:
            raise PayloadError(
                f"{path} contains the lone surrogate {text[exc.start]!a} at index "
                f"{exc.start}, which is not valid Unicode (e.g. from a non-UTF-8 file "
                "name); repair it, e.g. text.encode('utf-8', 'surrogateescape')"
                ".decode('utf-8', 'replace')"
            ) from None


_ARTICLES: Final = {"UUID": "a UUID", "NoneType": "None", "bytes": "bytes"}


def _a(value: object) -> str:
    """``"a datetime"`` / ``"an int"``: the type name of ``value`` with its article."""
    name = type(value).__name__
    if name in _ARTICLES:
        return _ARTICLES[name]
    return f"{'an' if name[:1].lower() in 'aeiou' else 'a'} {name}"
