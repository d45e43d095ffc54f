"""Text conveyor stores: sanitised when it is written on the user's behalf (errors, log
lines, progress messages, event names), refused when it identifies something (keys,
owners, queues, event ids).

One rule on every store: PostgreSQL refuses NUL in text and jsonb, and no store can
encode a lone surrogate as UTF-8, so sanitised text has both replaced with U+FFFD; text
longer than its limit keeps its start (a traceback keeps its start and its end) with a
marker saying how much was cut. Identifiers are indexed, so they must fit a PostgreSQL
index entry: at most :data:`MAX_IDENTIFIER_BYTES` bytes of UTF-8.
"""

from __future__ import annotations

import re
from typing import Final

from conveyor.errors import ConfigurationError

__all__ = [
    "MAX_ERROR_MESSAGE",
    "MAX_IDENTIFIER_BYTES",
    "MAX_JOB_ID_BYTES",
    "MAX_LOG_LINE",
    "MAX_PROGRESS_MESSAGE",
    "MAX_TRACEBACK",
    "check_identifier",
    "clean",
    "clean_name",
]

#: Characters kept of an error message, a log line, a traceback, a progress message.
MAX_ERROR_MESSAGE: Final = 16_384
MAX_LOG_LINE: Final = 16_384
MAX_TRACEBACK: Final = 65_536
MAX_PROGRESS_MESSAGE: Final = 4_096
#: UTF-8 bytes of a key, owner, queue, event id or event name (PostgreSQL's btree
#: entries hold about 2,700 bytes; a dedupe key joins job, key and owner).
MAX_IDENTIFIER_BYTES: Final = 1_024
#: UTF-8 bytes of a job id: with a key and an owner of MAX_IDENTIFIER_BYTES each, its
#: dedupe key still fits one PostgreSQL index entry.
MAX_JOB_ID_BYTES: Final = 512

_BAD: Final = re.compile("[\x00\ud800-\udfff]")
REPLACEMENT: Final = "\ufffd"


def clean(text: object, limit: int, *, keep_end: bool = False) -> str:
    """``text`` as conveyor can store it: NUL and lone surrogates become U+FFFD (a
    surrogate pair becomes its character) and past ``limit`` characters it is cut with a
    marker (``keep_end``: the middle is cut, as for a traceback)."""
    if not isinstance(text, str):
        try:
            text = str(text)
        except Exception:  # a broken __str__ must not stop the write
            text = f"<{type(text).__name__} whose str() failed>"
    if _BAD.search(text) is not None:
        text = _repair(text)
    if len(text) <= limit:
        return text
    cut = len(text) - limit
    if keep_end:
        half = limit // 2
        return f"{text[:half]}\n…[{cut} characters cut]…\n{text[len(text) - half:]}"
    return f"{text[:limit]}…[{cut} characters cut]"


def _repair(text: str) -> str:
    if "\x00" in text:
        text = text.replace("\x00", REPLACEMENT)
    # Join valid surrogate pairs into their character; lone ones stay and are replaced.
    text = text.encode("utf-16", "surrogatepass").decode("utf-16", "surrogatepass")
    return _BAD.sub(REPLACEMENT, text)


def clean_name(name: str, what: str = "an event name") -> str:
    """An event name as stored: non-empty, sanitised, at most MAX_IDENTIFIER_BYTES."""
    if not isinstance(name, str) or not name.strip():
        raise ConfigurationError(f"{what} must be a non-empty str, got {name!r}")
    name = clean(name, len(name))  # repaired, never cut here: the cut is counted in bytes
    encoded = name.encode()
    if len(encoded) > MAX_IDENTIFIER_BYTES:
        kept = encoded[: MAX_IDENTIFIER_BYTES - 40].decode(errors="ignore")
        name = f"{kept}…[{len(encoded) - len(kept.encode())} bytes cut]"
    return name


def check_identifier(value: str, what: str, limit: int = MAX_IDENTIFIER_BYTES) -> str:
    """Refuse a key, owner, queue, event id or job id that no store can index as given."""
    check_text(value, what)
    size = len(value.encode())
    if size > limit:
        raise ConfigurationError(
            f"invalid {what} {_short(value)}: it is {size} bytes in UTF-8; accepted: at "
            f"most {limit} bytes (it is indexed)"
        )
    return value


def check_text(value: str, what: str) -> str:
    """Refuse text that no store can hold as given (NUL, lone surrogates)."""
    if "\x00" in value:
        raise ConfigurationError(
            f"invalid {what} {_short(value)}: it contains a NUL character (\\u0000); "
            "accepted: text without NUL characters"
        )
    if _BAD.search(value) is not None:
        raise ConfigurationError(
            f"invalid {what} {_short(value)}: it contains a lone surrogate, which is not "
            "valid Unicode; accepted: valid Unicode text"
        )
    return value


def _short(value: str) -> str:
    return ascii(value if len(value) <= 60 else value[:60] + "…")
