"""Hostile-input guards every dashboard request passes, whatever endpoint it reaches.

* :class:`HeadersMiddleware` (outermost) puts the security headers on every response,
  the refusals of the other middleware and error pages included.
* :class:`InputGuardMiddleware` refuses, before any endpoint runs, a path or query string
  no store can hold (NUL characters, invalid UTF-8, over-long) and a request body larger
  than the limit — counted while it streams, so a 100 MB body is refused after the first
  megabyte, never buffered.

New endpoints inherit all of it: nothing here knows about routes.
"""

from __future__ import annotations

import html
from urllib.parse import parse_qsl, unquote_to_bytes

from starlette.responses import HTMLResponse, JSONResponse, Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

DEFAULT_MAX_BODY = 1024 * 1024  # bytes of request body accepted (1 MiB)
MAX_PATH = 2048  # bytes of the (percent-encoded) path
MAX_QUERY = 8192  # bytes of the (percent-encoded) query string

# Defence in depth: no inline or foreign scripts, no framing (clickjacking), no sniffing.
SECURITY_HEADERS = [
    (b"content-security-policy",
     b"default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
     b"frame-ancestors 'none'; form-action 'self'; base-uri 'none'"),
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
    (b"referrer-policy", b"same-origin"),
]
_HEADER_NAMES = {name for name, _ in SECURITY_HEADERS}


def local_path(scope: Scope) -> str:
    """The request path below the app's mount point (``root_path``)."""
    path: str = scope.get("path", "")
    root: str = scope.get("root_path", "")
    if root and path.startswith(root):
        return path[len(root):] or "/"
    return path


def wants_json(scope: Scope) -> bool:
    """Machine requests (``/api`` and under it, and ``/metrics``, which a scraper reads)
    get JSON errors (a 401, not a redirect to the sign-in page); pages get HTML."""
    path = local_path(scope)
    return path.startswith("/api/") or path in ("/api", "/metrics")


def error_response(scope: Scope, status: int, message: str,
                   headers: dict[str, str] | None = None) -> Response:
    """An error: ``{"error": message, "status": status}`` under /api/, a small HTML page
    elsewhere (the message escaped)."""
    if wants_json(scope):
        return JSONResponse({"error": message, "status": status}, status_code=status,
                            headers=headers)
    body = (f"<!doctype html><title>{status}</title><h1>Error {status}</h1>"
            f"<p>{html.escape(message)}</p>")
    return HTMLResponse(body, status_code=status, headers=headers)


class HeadersMiddleware:
    """Adds :data:`SECURITY_HEADERS` to every HTTP response."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def sender(message: Message) -> None:
            if message["type"] == "http.response.start":
                kept = [(k, v) for k, v in message.get("headers", [])
                        if k.lower() not in _HEADER_NAMES]
                message = {**message, "headers": kept + SECURITY_HEADERS}
            await send(message)

        await self.app(scope, receive, sender)


class BodyTooLarge(Exception):
    """Raised inside the app when the streamed body passes the limit."""


class InputGuardMiddleware:
    """Refuses malformed paths and query strings (400/414) and large bodies (413)."""

    def __init__(self, app: ASGIApp, max_body: int = DEFAULT_MAX_BODY) -> None:
        self.app = app
        self.max_body = max_body

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        problem = url_problem(scope)
        if problem is None:
            problem = self._declared_size_problem(scope)
        if problem is not None:
            status, message = problem
            await error_response(scope, status, message)(scope, receive, send)
            return
        started = False
        seen = 0

        async def counting_receive() -> Message:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.max_body:
                    raise BodyTooLarge
            return message

        async def tracking_send(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, counting_receive, tracking_send)
        except BodyTooLarge:
            if started:
                raise
            await error_response(scope, 413, self._too_large())(scope, receive, send)

    def _too_large(self) -> str:
        return f"request body too large: at most {self.max_body:,} bytes are accepted"

    def _declared_size_problem(self, scope: Scope) -> tuple[int, str] | None:
        for name, value in scope.get("headers", []):
            if name == b"content-length":
                try:
                    size = int(value)
                except ValueError:
                    return 400, "invalid Content-Length header; accepted: a byte count"
                if size > self.max_body:
                    return 413, self._too_large()
        return None


def url_problem(scope: Scope) -> tuple[int, str] | None:
    """Why the path or query string cannot be served (status, message), or None."""
    raw_path: bytes = scope.get("raw_path") or scope.get("path", "").encode("utf-8",
                                                                           "surrogatepass")
    query: bytes = scope.get("query_string", b"")
    if len(raw_path) > MAX_PATH:
        return 414, f"path too long: at most {MAX_PATH} bytes are accepted"
    if len(query) > MAX_QUERY:
        return 414, f"query string too long: at most {MAX_QUERY} bytes are accepted"
    try:
        path = unquote_to_bytes(raw_path).decode("utf-8")
    except UnicodeDecodeError:
        return 400, "the path is not valid UTF-8 (after percent-decoding)"
    if "\x00" in path or "\x00" in scope.get("path", ""):
        return 400, "the path contains a NUL character, which is not accepted"
    try:
        pairs = parse_qsl(query.decode("latin-1"), keep_blank_values=True,
                          encoding="utf-8", errors="strict")
    except UnicodeDecodeError:
        return 400, "the query string is not valid UTF-8 (after percent-decoding)"
    for name, value in pairs:
        if "\x00" in name or "\x00" in value:
            shown = value if len(value) <= 40 else value[:40] + "…"
            label = repr(name) if "\x00" in name else name
            return 400, f"invalid {label} {shown!r}; accepted: text without NUL characters"
    return None


__all__ = [
    "DEFAULT_MAX_BODY", "SECURITY_HEADERS", "HeadersMiddleware", "InputGuardMiddleware",
    "error_response", "local_path", "url_problem", "wants_json",
]
