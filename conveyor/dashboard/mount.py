"""The dashboard mounted in another ASGI app (FastAPI, Starlette) under a path prefix."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING
from urllib.parse import quote, unquote

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from conveyor.dashboard.app import create_app
from conveyor.dashboard.context import MOUNTED_AT
from conveyor.errors import ConfigurationError

if TYPE_CHECKING:
    from conveyor.app import Conveyor

# Site-absolute URLs in the dashboard's HTML (attributes its templates write).
_BAD_PREFIX = re.compile(r"[?#\s\x00-\x1f\x7f]|://")
_LINK = re.compile(rb'(\s(?:href|src|action|hx-get|hx-post)=")/(?!/)')
# What a URL path keeps as it is (RFC 3986 pchar and "/"); the rest is percent-encoded.
_PATH_SAFE = "/!$&'()*+,;=:@-._~"


class PrefixApp:
    """Serves ``inner`` (written for the site root) under ``prefix``: the request path
    loses the prefix (or the mount point's ``root_path``), and site-absolute links in HTML
    and redirects gain it."""

    def __init__(self, inner: ASGIApp, prefix: str = "") -> None:
        if not isinstance(prefix, str) or _BAD_PREFIX.search(prefix):
            raise ConfigurationError(
                f"invalid prefix {prefix!r}; accepted: a URL path like '/jobs' (no scheme, "
                "query, fragment, spaces or control characters), or '' for none"
            )
        if prefix and not prefix.startswith("/"):
            prefix = "/" + prefix
        self.inner = inner
        # Matched against the request's decoded path; written percent-encoded in URLs.
        self.prefix = unquote(prefix).rstrip("/")

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.inner(scope, receive, send)
            return
        root = scope.get("root_path", "").rstrip("/")
        path: str = scope["path"]
        base = self.prefix or root
        for strip in (root, self.prefix):
            if strip and (path == strip or path.startswith(strip + "/")):
                path = path[len(strip):]
                break
        if not base:
            await self.inner(scope, receive, send)
            return
        url = _quoted(base)  # a header or link holds no raw "â"
        inner_scope = dict(scope, path=path or "/", raw_path=_quoted(path or "/").encode(),
                           root_path="", **{MOUNTED_AT: url})
        await self.inner(inner_scope, receive, _rewriting(send, url.encode()))


def _quoted(path: str) -> str:
    return quote(path, safe=_PATH_SAFE, errors="surrogatepass")


_COOKIE_ROOT = re.compile(rb"(?i)(;\s*path=)/(?=;|$)")


def _rewriting(send: Send, base: bytes) -> Send:
    state: dict[str, object] = {"html": False, "start": None, "body": []}

    async def sender(message: Message) -> None:
        if message["type"] == "http.response.start":
            headers = []
            for name, value in message.get("headers", []):
                if name.lower() == b"location" and value.startswith(b"/") and not (
                    value.startswith(b"//")
                ):
                    value = base + value
                if name.lower() == b"set-cookie":  # the cookie stays under the mount
                    value = _COOKIE_ROOT.sub(lambda m: m.group(1) + base, value)
                if name.lower() == b"content-type" and value.startswith(b"text/html"):
                    state["html"] = True
                headers.append((name, value))
            message = dict(message, headers=headers)
            if state["html"]:
                state["start"] = message
                return
            await send(message)
            return
        if message["type"] == "http.response.body" and state["html"]:
            chunks: list[bytes] = state["body"]  # type: ignore[assignment]
            chunks.append(message.get("body", b""))
            if message.get("more_body"):
                return
            body = _LINK.sub(lambda m: m.group(1) + base + b"/", b"".join(chunks))
            start: Message = state["start"]  # type: ignore[assignment]
            start["headers"] = [
                (n, str(len(body)).encode() if n.lower() == b"content-length" else v)
                for n, v in start["headers"]
            ]
            await send(start)
            await send({"type": "http.response.body", "body": body})
            return
        await send(message)

    return sender


def asgi_app(conveyor_app: Conveyor, token: str | None = None, prefix: str = "") -> ASGIApp:
    """The dashboard and API of ``conveyor_app`` to mount in another ASGI app (see
    :meth:`conveyor.Conveyor.asgi`)."""
    # The host app decides where it listens; a token (or its own auth) protects it.
    return PrefixApp(create_app(conveyor_app, token=token, allowed_hosts=["*"]), prefix)
