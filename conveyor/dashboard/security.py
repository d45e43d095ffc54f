"""Who may use the dashboard: Host check, token sign-in, CSRF defence.

* Host: only the names the server was meant to be reached by (defeats DNS rebinding).
* Token (``CONVEYOR_TOKEN``): API clients send ``Authorization: Bearer <token>``;
  people sign in once through ``/login``, which sets an HttpOnly SameSite=Strict cookie
  holding an HMAC of the token (never the token itself).
* CSRF: a state-changing request from a browser (it sends ``Origin`` or
  ``Sec-Fetch-Site``) must be same-origin and carry the CSRF token (a form field or the
  ``X-CSRF-Token`` header htmx sends). A bearer-token client is served without them.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Iterable
from dataclasses import dataclass
from http.cookies import SimpleCookie
from urllib.parse import quote, urlsplit

from starlette.datastructures import FormData
from starlette.requests import HTTPConnection, Request
from starlette.responses import JSONResponse, PlainTextResponse, RedirectResponse, Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

SESSION_COOKIE = "conveyor_session"
CSRF_COOKIE = "conveyor_csrf"
CSRF_FIELD = "csrf_token"
CSRF_HEADER = "x-csrf-token"
LOOPBACK_HOSTS = ("127.0.0.1", "localhost", "::1")
SAFE_METHODS = ("GET", "HEAD", "OPTIONS")
# Paths served without signing in (the sign-in form itself and static files).
PUBLIC_PREFIXES = ("/login", "/static/")


class Forbidden(Exception):
    """A request refused for a reason the user can act on."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


@dataclass(frozen=True)
class Security:
    """The dashboard's security settings, shared by the middleware and the endpoints."""

    token: str | None
    allowed_hosts: frozenset[str]
    secret: bytes

    @classmethod
    def build(cls, token: str | None, allowed_hosts: Iterable[str] | None) -> Security:
        hosts = {h.strip().lower().strip("[]") for h in (allowed_hosts or LOOPBACK_HOSTS)}
        secret = (token or "").encode() or secrets.token_bytes(32)
        return cls(token or None, frozenset(h for h in hosts if h), secret)

    # -- tokens ------------------------------------------------------------------
    def _mac(self, purpose: str, value: str = "") -> str:
        return hmac.new(self.secret, f"{purpose}\x1f{value}".encode(), hashlib.sha256).hexdigest()

    def session_value(self) -> str:
        return self._mac("session")

    def check_token(self, candidate: str) -> bool:
        return self.token is not None and hmac.compare_digest(
            candidate.encode(), self.token.encode()
        )

    def csrf_token(self, nonce: str) -> str:
        return self._mac("csrf", nonce)

    def check_csrf(self, nonce: str | None, submitted: str | None) -> bool:
        if not nonce or not submitted:
            return False
        return hmac.compare_digest(self.csrf_token(nonce).encode(), submitted.encode())

    # -- request checks ------------------------------------------------------------
    def host_allowed(self, host_header: str) -> bool:
        if "*" in self.allowed_hosts:
            return True
        host = _host_name(host_header)
        return host is not None and host in self.allowed_hosts

    def authenticated(self, conn: HTTPConnection) -> str | None:
        """How the request is signed in: "open" (no token set), "bearer", "cookie" or None."""
        if self.token is None:
            return "open"
        auth = conn.headers.get("authorization", "")
        scheme, _, value = auth.partition(" ")
        if scheme.lower() == "bearer" and self.check_token(value.strip()):
            return "bearer"
        cookie = conn.cookies.get(SESSION_COOKIE, "")
        if cookie and hmac.compare_digest(cookie.encode(), self.session_value().encode()):
            return "cookie"
        return None


def _host_name(host_header: str) -> str | None:
    """The lowercase host of a Host header ("[::1]:8750" -> "::1"), None if malformed."""
    try:
        parts = urlsplit(f"//{host_header}")
        hostname = parts.hostname
        _ = parts.port  # raises ValueError on a bad port
    except ValueError:
        return None
    return hostname.lower() if hostname else None


def is_browser(conn: HTTPConnection) -> bool:
    return "origin" in conn.headers or "sec-fetch-site" in conn.headers


def cross_site_reason(conn: HTTPConnection) -> str | None:
    """Why a state-changing request looks cross-site, or None if it does not."""
    site = conn.headers.get("sec-fetch-site")
    if site is not None and site not in ("same-origin", "none"):
        return f"cross-site request refused (Sec-Fetch-Site: {site})"
    origin = conn.headers.get("origin")
    if origin is not None:
        parts = urlsplit(origin)
        if origin == "null" or not parts.netloc:
            return "cross-site request refused (Origin: null)"
        if parts.netloc.lower() != conn.headers.get("host", "").lower():
            return "cross-site request refused (Origin does not match Host)"
    return None


def wants_json(conn: HTTPConnection) -> bool:
    return conn.url.path.startswith("/api/")


def refusal(conn: HTTPConnection, status: int, message: str) -> Response:
    """An error: JSON under /api/, plain text elsewhere."""
    if wants_json(conn):
        return json_error(status, message)
    return PlainTextResponse(message, status_code=status)


def safe_next(target: str | None) -> str:
    """A same-site path to go back to after signing in (never another host)."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return "/"
    return target


class SecurityMiddleware:
    """ASGI middleware applying :class:`Security` to every HTTP request."""

    def __init__(self, app: ASGIApp, security: Security) -> None:
        self.app = app
        self.security = security

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        conn = HTTPConnection(scope)
        sec = self.security
        if not sec.host_allowed(conn.headers.get("host", "")):
            await PlainTextResponse("invalid Host header", status_code=400)(scope, receive, send)
            return
        path = conn.url.path
        auth = sec.authenticated(conn)
        public = path.startswith(PUBLIC_PREFIXES)
        if auth is None and not public:
            if wants_json(conn):
                response: Response = json_error(
                    401, "authentication required: send 'Authorization: Bearer <token>'",
                    headers={"WWW-Authenticate": "Bearer"},
                )
            else:
                target = path + (f"?{conn.url.query}" if conn.url.query else "")
                response = RedirectResponse(f"/login?next={quote(target)}", status_code=303)
            await response(scope, receive, send)
            return
        nonce = conn.cookies.get(CSRF_COOKIE) or ""
        fresh_nonce = None if _valid_nonce(nonce) else secrets.token_urlsafe(24)
        nonce = fresh_nonce or nonce
        scope.setdefault("state", {})
        scope["state"]["csrf"] = sec.csrf_token(nonce)
        scope["state"]["auth"] = auth
        if scope["method"] not in SAFE_METHODS:
            problem = self._csrf_problem(conn, auth, nonce)
            if problem:
                await refusal(conn, 403, problem)(scope, receive, send)
                return
        await self.app(scope, receive, _with_headers(send, fresh_nonce, conn.url.scheme))

    def _csrf_problem(self, conn: HTTPConnection, auth: str | None, nonce: str) -> str | None:
        reason = cross_site_reason(conn)
        if reason:
            return reason
        if auth == "bearer" or not (is_browser(conn) or auth == "cookie"):
            return None  # an API client, not a browser: it cannot be driven cross-site
        if conn.headers.get(CSRF_HEADER):
            if self.security.check_csrf(nonce, conn.headers.get(CSRF_HEADER)):
                return None
            return "invalid CSRF token: reload the page and try again"
        content_type = conn.headers.get("content-type", "")
        if content_type.startswith(("application/x-www-form-urlencoded", "multipart/form-data")):
            # Checked by read_form() in the endpoint, which has the body.
            conn.scope["state"]["csrf_form_required"] = True
            return None
        return "missing CSRF token: reload the page and try again"


def _valid_nonce(nonce: str) -> bool:
    return 16 <= len(nonce) <= 64 and nonce.replace("-", "").replace("_", "").isalnum()


# Defence in depth: no inline or foreign scripts, no framing (clickjacking), no sniffing.
SECURITY_HEADERS = [
    (b"content-security-policy",
     b"default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
     b"frame-ancestors 'none'; form-action 'self'; base-uri 'none'"),
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
    (b"referrer-policy", b"same-origin"),
]


def _with_headers(send: Send, nonce: str | None, scheme: str) -> Send:
    """Add the security headers, and the CSRF cookie when the browser has none yet."""

    async def sender(message: Message) -> None:
        if message["type"] == "http.response.start":
            headers = list(message.get("headers", [])) + SECURITY_HEADERS
            if nonce is not None:
                cookie: SimpleCookie = SimpleCookie()
                cookie[CSRF_COOKIE] = nonce
                morsel = cookie[CSRF_COOKIE]
                morsel["path"] = "/"
                morsel["httponly"] = True
                morsel["samesite"] = "Strict"
                if scheme == "https":
                    morsel["secure"] = True
                headers.append((b"set-cookie", morsel.OutputString().encode("latin-1")))
            message = {**message, "headers": headers}
        await send(message)

    return sender


async def read_form(request: Request, security: Security) -> FormData:
    """The submitted form, after checking its CSRF token when the middleware asked to."""
    form = await request.form()
    if request.scope.get("state", {}).get("csrf_form_required"):
        submitted = form.get(CSRF_FIELD)
        nonce = request.cookies.get(CSRF_COOKIE)
        if not isinstance(submitted, str) or not security.check_csrf(nonce, submitted):
            raise Forbidden(403, "invalid or missing CSRF token: reload the page and try again")
    return form


def session_cookie_response(target: str, security: Security, secure: bool) -> Response:
    response = RedirectResponse(safe_next(target), status_code=303)
    response.set_cookie(
        SESSION_COOKIE, security.session_value(), httponly=True, samesite="strict",
        secure=secure, path="/",
    )
    return response


def json_error(
    status: int, message: str, headers: dict[str, str] | None = None
) -> JSONResponse:
    """The API's error body: ``{"error": message, "status": status}``."""
    return JSONResponse({"error": message, "status": status}, status_code=status,
                        headers=headers)


__all__ = ["Forbidden", "Security", "SecurityMiddleware", "read_form"]
