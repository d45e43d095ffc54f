"""Who may use the dashboard: Host check, token sign-in, CSRF defence.

* Host: only the names the server was meant to be reached by (defeats DNS rebinding).
* Token (``CONVEYOR_TOKEN``): API clients send ``Authorization: Bearer <token>``;
  people sign in once through ``/login``, which sets an HttpOnly SameSite=Strict cookie
  holding a signed, expiring session id (never the token itself) that logout revokes.
  Wrong tokens (sign-in form or bearer) are throttled per client address.
* CSRF: a state-changing request must be same-origin, and one from a browser (it sends
  ``Origin``, ``Sec-Fetch-Site`` or the session cookie) or in a content type a browser
  form can send (form-urlencoded, multipart, text/plain) must carry the CSRF token (the
  ``csrf_token`` form field or the ``X-CSRF-Token`` header htmx sends), checked here for
  every endpoint. A bearer-token client is served without them.
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
from starlette.exceptions import HTTPException
from starlette.formparsers import MultiPartException
from starlette.requests import ClientDisconnect, HTTPConnection, Request
from starlette.responses import JSONResponse, RedirectResponse, Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from conveyor.dashboard import guard
from conveyor.dashboard.sessions import DEFAULT_SESSION_LIFETIME, Sessions, Throttle
from conveyor.errors import ConfigurationError

SESSION_COOKIE = "conveyor_session"
CSRF_COOKIE = "conveyor_csrf"
CSRF_FIELD = "csrf_token"
CSRF_HEADER = "x-csrf-token"
LOOPBACK_HOSTS = ("127.0.0.1", "localhost", "::1")
SAFE_METHODS = ("GET", "HEAD", "OPTIONS")
# Paths served without signing in (the sign-in form itself and static files).
PUBLIC_PREFIXES = ("/login", "/static/")
# Content types a cross-site HTML form (or a "simple" fetch) can send without a preflight.
FORM_TYPES = ("application/x-www-form-urlencoded", "multipart/form-data", "text/plain")
PARSED_FORM_TYPES = FORM_TYPES[:2]


class Forbidden(Exception):
    """A request refused for a reason the user can act on."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


def check_token(token: object) -> None:
    """Refuse a token that clients could not send in an ``Authorization`` header."""
    if token is None or token == "":
        return
    if not isinstance(token, str):
        raise ConfigurationError(f"a dashboard token must be a str, not {type(token).__name__}")
    if (token != token.strip() or not token.isascii()
            or any(ord(c) < 32 or ord(c) == 127 for c in token)):
        raise ConfigurationError(
            "a dashboard token must be ASCII, with no control characters and no spaces "
            "around it (clients send it in an Authorization header); e.g. the output of "
            "`python -c 'import secrets; print(secrets.token_urlsafe(32))'`"
        )


@dataclass(frozen=True)
class Security:
    """The dashboard's security settings, shared by the middleware and the endpoints."""

    token: str | None
    allowed_hosts: frozenset[str]
    secret: bytes
    sessions: Sessions
    throttle: Throttle

    @classmethod
    def build(cls, token: str | None, allowed_hosts: Iterable[str] | None,
              session_lifetime: float = DEFAULT_SESSION_LIFETIME) -> Security:
        check_token(token)
        hosts = {h.strip().lower().strip("[]") for h in (allowed_hosts or LOOPBACK_HOSTS)}
        # Derived from the token, so sessions survive a restart and die when it changes.
        secret = hashlib.sha256(b"conveyor-dashboard\x1f" + token.encode()).digest() \
            if token else secrets.token_bytes(32)
        return cls(token or None, frozenset(h for h in hosts if h), secret,
                   Sessions(secret, session_lifetime), Throttle())

    # -- tokens ------------------------------------------------------------------
    def _mac(self, purpose: str, value: str = "") -> str:
        return hmac.new(self.secret, f"{purpose}\x1f{value}".encode(), hashlib.sha256).hexdigest()

    def check_token(self, candidate: str) -> bool:
        return self.token is not None and hmac.compare_digest(
            candidate.encode("utf-8", "surrogatepass"), self.token.encode()
        )

    def csrf_token(self, nonce: str) -> str:
        return self._mac("csrf", nonce)

    def check_csrf(self, nonce: str | None, submitted: str | None) -> bool:
        if not nonce or not submitted:
            return False
        return hmac.compare_digest(self.csrf_token(nonce).encode(),
                                   submitted.encode("utf-8", "surrogatepass"))

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
        if cookie and self.sessions.valid(cookie):
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
        if origin == "null":
            return "cross-site request refused (Origin: null)"
        try:
            parts = urlsplit(origin)
            _ = parts.port  # raises ValueError on a bad port
        except ValueError:
            parts = None
        if parts is None or parts.scheme not in ("http", "https") or not parts.netloc:
            return "cross-site request refused (malformed Origin header)"
        if parts.netloc.lower() != conn.headers.get("host", "").lower():
            return "cross-site request refused (Origin does not match Host)"
    return None


def wants_json(conn: HTTPConnection) -> bool:
    return guard.wants_json(conn.scope)


def refusal(conn: HTTPConnection, status: int, message: str) -> Response:
    """An error: JSON under /api/, an HTML message elsewhere."""
    return guard.error_response(conn.scope, status, message)


def client_address(conn: HTTPConnection) -> str:
    return conn.client.host if conn.client else "unknown"


def throttled(conn: HTTPConnection, security: Security) -> Response | None:
    """The 429 answer for a client that sent too many wrong tokens lately, or None."""
    wait = security.throttle.wait(client_address(conn))
    if not wait:
        return None
    seconds = int(wait) + 1
    return guard.error_response(
        conn.scope, 429, f"too many wrong tokens: try again in {seconds} seconds",
        headers={"Retry-After": str(seconds)})


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
            await refusal(conn, 400, "invalid Host header")(scope, receive, send)
            return
        path = guard.local_path(scope)
        auth = sec.authenticated(conn)
        public = path.startswith(PUBLIC_PREFIXES)
        if auth is None and not public:
            await self._unauthenticated(conn)(scope, receive, send)
            return
        nonce = conn.cookies.get(CSRF_COOKIE) or ""
        fresh_nonce = None if _valid_nonce(nonce) else secrets.token_urlsafe(24)
        nonce = fresh_nonce or nonce
        scope.setdefault("state", {})
        scope["state"]["csrf"] = sec.csrf_token(nonce)
        scope["state"]["auth"] = auth
        if scope["method"] not in SAFE_METHODS:
            try:
                problem, receive = await self._csrf_problem(conn, auth, nonce, receive)
            except ClientDisconnect:  # gone while sending its form: nobody to answer
                return
            if problem:
                status = 415 if problem.startswith("send the body as JSON") else 403
                await refusal(conn, status, problem)(scope, receive, send)
                return
        await self.app(scope, receive, _with_csrf_cookie(send, fresh_nonce, conn.url.scheme))

    def _unauthenticated(self, conn: HTTPConnection) -> Response:
        bearer = conn.headers.get("authorization", "")
        if bearer:  # a wrong token: count it against this client
            blocked = throttled(conn, self.security)
            if blocked is not None:
                return blocked
            self.security.throttle.failed(client_address(conn))
        if wants_json(conn):
            return json_error(
                401, "authentication required: send 'Authorization: Bearer <token>'",
                headers={"WWW-Authenticate": "Bearer"},
            )
        target = guard.local_path(conn.scope) + (f"?{conn.url.query}" if conn.url.query else "")
        return RedirectResponse(f"{conn.scope.get('root_path', '')}/login?next={quote(target)}",
                                status_code=303)

    async def _csrf_problem(
        self, conn: HTTPConnection, auth: str | None, nonce: str, receive: Receive
    ) -> tuple[str | None, Receive]:
        """Why this state-changing request is refused (or None), and the receive channel
        to read its body from (replayed when the form had to be read here)."""
        reason = cross_site_reason(conn)
        if reason:
            return reason, receive
        content_type = conn.headers.get("content-type", "").split(";")[0].strip().lower()
        if content_type in FORM_TYPES and wants_json(conn):
            # The API reads JSON only; refusing form types outright means no cross-site
            # form (which cannot send JSON without a preflight) ever reaches it.
            return ("send the body as JSON with 'Content-Type: application/json' (form "
                    "content types are refused on the API)"), receive
        if auth == "bearer":
            return None, receive  # a browser cannot add the header cross-site
        browser = is_browser(conn) or auth == "cookie" or content_type in FORM_TYPES
        if not browser:
            return None, receive  # e.g. curl sending JSON: needs a CORS preflight cross-site
        header = conn.headers.get(CSRF_HEADER)
        if header:
            if self.security.check_csrf(nonce, header):
                return None, receive
            return "invalid CSRF token: reload the page and try again", receive
        if content_type not in PARSED_FORM_TYPES:
            return "missing CSRF token: reload the page and try again", receive
        body = await _read_body(receive)
        replay = _replay(body, receive)
        try:
            form = await Request(conn.scope, replay).form()
        except (MultiPartException, HTTPException):
            return "invalid CSRF token: the form could not be read", _replay(body, receive)
        submitted = form.get(CSRF_FIELD)
        await form.close()
        if not isinstance(submitted, str) or not self.security.check_csrf(nonce, submitted):
            return "invalid or missing CSRF token: reload the page and try again", receive
        return None, _replay(body, receive)


async def _read_body(receive: Receive) -> bytes:
    chunks: list[bytes] = []
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            raise ClientDisconnect
        chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            return b"".join(chunks)


def _replay(body: bytes, receive: Receive) -> Receive:
    """A receive channel that yields ``body`` once, then defers to ``receive``."""
    sent = False

    async def replay() -> Message:
        nonlocal sent
        if sent:
            return await receive()
        sent = True
        return {"type": "http.request", "body": body, "more_body": False}

    return replay


def _valid_nonce(nonce: str) -> bool:
    return 16 <= len(nonce) <= 64 and nonce.replace("-", "").replace("_", "").isalnum()


def _with_csrf_cookie(send: Send, nonce: str | None, scheme: str) -> Send:
    """Set the CSRF cookie when the browser has none yet."""
    if nonce is None:
        return send

    async def sender(message: Message) -> None:
        if message["type"] == "http.response.start":
            cookie: SimpleCookie = SimpleCookie()
            cookie[CSRF_COOKIE] = nonce
            morsel = cookie[CSRF_COOKIE]
            morsel["path"] = "/"
            morsel["httponly"] = True
            morsel["samesite"] = "Strict"
            if scheme == "https":
                morsel["secure"] = True
            header = (b"set-cookie", morsel.OutputString().encode("latin-1"))
            message = {**message, "headers": [*message.get("headers", []), header]}
        await send(message)

    return sender


async def read_form(request: Request, security: Security) -> FormData:
    """The submitted form (its CSRF token was checked by :class:`SecurityMiddleware`)."""
    try:
        return await request.form()
    except (MultiPartException, HTTPException) as exc:
        raise Forbidden(400, f"the form could not be read: {getattr(exc, 'detail', exc)}"
                        ) from None


def session_cookie_response(target: str, security: Security, secure: bool) -> Response:
    """Signed in: a new session cookie (expiring with the session), back to ``target``."""
    response = RedirectResponse(safe_next(target), status_code=303)
    response.set_cookie(
        SESSION_COOKIE, security.sessions.issue(), max_age=int(security.sessions.lifetime),
        expires=int(security.sessions.lifetime), httponly=True, samesite="strict",
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
