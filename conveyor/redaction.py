"""The one list of secret names, and redaction built on it.

Everything conveyor stores or shows on the user's behalf goes through here: headers of
``io.background_fetch`` (request and response, in the step), fields of ``io.logger`` (the
step and the run's log copy), and what the dashboard, the JSON API and the CLI show of
payloads, results, errors and log lines. A value is secret when its name (a dict key,
a header name or a URL query parameter) matches :data:`SECRET_NAMES`; a password in a
URL (``scheme://user:password@host``) is always secret.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable
from typing import Any

REDACTED = "[redacted]"
TOO_DEEP = "[nested too deep to show]"
MAX_DEPTH = 100  # levels of nesting shown; deeper parts are replaced by TOO_DEEP

# Names whose values are secrets. Matched case-insensitively against a name with its
# separators removed ("X-Api-Key" -> "xapikey"), as a substring, except SHORT_NAMES,
# which must be a whole word of the name ("auth" in "x-auth", not in "author").
SECRET_NAMES = (
    "authorization", "cookie", "password", "passwd", "passphrase", "secret", "token",
    "apikey", "accesskey", "privatekey", "credential", "session", "signature",
)
SHORT_NAMES = ("auth", "pwd", "pw", "sig")

_SURROGATE = re.compile("[\ud800-\udfff]")
_SEPARATORS = re.compile(r"[^a-z0-9]+")
_URL_PASSWORD = re.compile(r"(?P<head>\b[a-zA-Z][a-zA-Z0-9+.\-]*://[^:/?#@\s]*):[^@/?#\s]*@")
_URL_PARAMETER = re.compile(r"(?P<head>[?&;](?P<name>[^=&#;\s?]+)=)(?P<value>[^&#;\s]*)")


@functools.lru_cache(maxsize=4096)  # the same few names (dict keys, headers) recur
def is_secret_name(name: str) -> bool:
    """Whether a value called ``name`` (dict key, header, query parameter) is a secret."""
    words = [w for w in _SEPARATORS.split(name.lower()) if w]
    joined = "".join(words)
    return any(n in joined for n in SECRET_NAMES) or any(w in SHORT_NAMES for w in words)


def redact_text(text: str, hidden: Iterable[str] = ()) -> str:
    """``text`` with URL passwords, secret URL parameters and ``hidden`` strings masked."""
    if "://" in text:
        text = _URL_PASSWORD.sub(lambda m: f"{m['head']}:{REDACTED}@", text)
    if "=" in text:
        text = _URL_PARAMETER.sub(_mask_parameter, text)
    for secret in hidden:
        if secret and secret in text:
            text = text.replace(secret, REDACTED)
    return text


def _mask_parameter(match: re.Match[str]) -> str:
    if match["value"] and is_secret_name(match["name"]):
        return f"{match['head']}{REDACTED}"
    return match.group(0)


def redact_headers(headers: dict[str, str]) -> dict[str, str]:
    """Headers with the values of secret ones replaced by :data:`REDACTED`."""
    return {k: REDACTED if is_secret_name(k) else redact_text(v) for k, v in headers.items()}


def redact(value: Any, hidden: Iterable[str] = (), depth: int = 0) -> Any:
    """A JSON-ready copy of ``value`` with secrets masked.

    Values under secret names are replaced (unless empty), strings lose URL passwords,
    secret URL parameters and the ``hidden`` strings, and text that cannot be encoded
    (lone surrogates) is made printable. A header given as ``{"value": ..., "secret":
    true}`` is masked; parts nested deeper than :data:`MAX_DEPTH` are replaced by
    :data:`TOO_DEEP`, so no stored value can break a reader.
    """
    hidden = tuple(hidden)
    if isinstance(value, str):
        return redact_text(printable(value), hidden)
    if not isinstance(value, (dict, list, tuple)):
        return value
    if depth >= MAX_DEPTH:
        return TOO_DEEP
    if isinstance(value, dict):
        if value.get("secret") is True and "value" in value:
            return {**value, "value": REDACTED}
        return {
            printable(str(k)): REDACTED if _secret_entry(k, v) else redact(v, hidden, depth + 1)
            for k, v in value.items()
        }
    return [redact(v, hidden, depth + 1) for v in value]


def _secret_entry(key: Any, value: Any) -> bool:
    return isinstance(key, str) and value not in (None, "", False) and is_secret_name(key)


def printable(text: str) -> str:
    """``text`` with lone surrogates (undecodable bytes) replaced by U+FFFD."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return _SURROGATE.sub("\ufffd", text)
    return text


__all__ = [
    "MAX_DEPTH", "REDACTED", "SECRET_NAMES", "is_secret_name", "printable", "redact",
    "redact_headers", "redact_text",
]
