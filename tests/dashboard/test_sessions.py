"""Sessions and CSRF: expiring signed cookies revoked by logout, Secure over HTTPS (only
through a trusted proxy), short tokens warned about beyond loopback, wrong tokens throttled,
the CSRF token required for every content type a browser form can send."""

from __future__ import annotations

import re

import pytest
from starlette.testclient import TestClient
from uvicorn.middleware.proxy_headers import ProxyHeadersMiddleware

from conveyor import Conveyor
from conveyor.dashboard import check_bind, create_app
from conveyor.dashboard.sessions import Sessions, Throttle
from conveyor.errors import ConfigurationError

from .conftest import ClientFactory
from .helpers import BASE
from .test_pages import csrf_of

TOKEN = "s3ssion-" + "y" * 30
SAME_ORIGIN = {"Origin": "http://127.0.0.1", "Sec-Fetch-Site": "same-origin"}
BEARER = {"Authorization": f"Bearer {TOKEN}"}


def sign_in(client: TestClient, origin: str = "http://127.0.0.1") -> str:
    """Sign in through the form; returns the Set-Cookie header of the session."""
    page = client.get("/login")
    csrf = re.search(r'name="csrf_token" value="([0-9a-f]+)"', page.text)
    nonce = re.search(r"conveyor_csrf=([^;]+)", page.headers["set-cookie"])
    assert csrf and nonce
    # Sent by hand: a Secure cookie set through an https proxy is not sent back over http.
    r = client.post("/login", data={"token": TOKEN, "csrf_token": csrf.group(1)},
                    headers={"Origin": origin, "Cookie": f"conveyor_csrf={nonce.group(1)}"},
                    follow_redirects=False)
    assert r.status_code == 303, r.text
    return next(v for k, v in r.headers.multi_items()
                if k == "set-cookie" and v.startswith("conveyor_session="))


def test_the_session_cookie_expires(sqlite_demo: Conveyor, make_client: ClientFactory) -> None:
    cookie = sign_in(make_client(sqlite_demo, token=TOKEN))
    assert "Max-Age=43200" in cookie and "expires=" in cookie.lower()
    assert "HttpOnly" in cookie and "SameSite=strict" in cookie and "Secure" not in cookie


def test_logout_revokes_the_session_on_the_server(
    sqlite_demo: Conveyor, make_client: ClientFactory
) -> None:
    client = make_client(sqlite_demo, token=TOKEN)
    sign_in(client)
    stolen = client.cookies["conveyor_session"]
    assert client.get("/api/runs").status_code == 200
    csrf = csrf_of(client, "/runs")
    r = client.post("/logout", data={"csrf_token": csrf}, headers=SAME_ORIGIN,
                    follow_redirects=False)
    assert r.status_code == 303
    replay = TestClient(client.app, base_url=BASE)  # the same server
    replay.cookies.set("conveyor_session", stolen)
    assert replay.get("/api/runs").status_code == 401
    assert replay.get("/runs", follow_redirects=False).status_code == 303


def test_sessions_are_signed_expire_and_can_be_revoked() -> None:
    now = [1_000_000.0]
    sessions = Sessions(b"k" * 32, lifetime=60, clock=lambda: now[0])
    value = sessions.issue()
    assert sessions.valid(value)
    session_id, expires, mac = value.split(".")
    assert not sessions.valid(f"{session_id}.{int(expires) + 3600}.{mac}")  # extended: refused
    assert not sessions.valid(f"other.{expires}.{mac}")
    assert not Sessions(b"x" * 32, clock=lambda: now[0]).valid(value)  # another secret
    for junk in ("", "a.b.c", "..", "a.99999999999999999999.c", "\x00", "é.1.x"):
        assert not sessions.valid(junk)
    now[0] += 61
    assert not sessions.valid(value)
    now[0] -= 61
    sessions.revoke(value)
    assert not sessions.valid(value)
    assert sessions.valid(sessions.issue())


def test_cookies_are_secure_over_https_only_through_a_trusted_proxy(
    sqlite_demo: Conveyor,
) -> None:
    asgi = create_app(sqlite_demo, token=TOKEN)
    https = TestClient(asgi, base_url="https://127.0.0.1")
    assert "Secure" in sign_in(https, origin="https://127.0.0.1")
    forwarded = {"X-Forwarded-Proto": "https"}
    trusted = TestClient(ProxyHeadersMiddleware(asgi, trusted_hosts="*"), base_url=BASE,
                         headers=forwarded)
    assert "Secure" in sign_in(trusted, origin="https://127.0.0.1")
    untrusted = TestClient(ProxyHeadersMiddleware(asgi, trusted_hosts="10.9.9.9"),
                           base_url=BASE, headers=forwarded)
    assert "Secure" not in sign_in(untrusted)


def test_a_short_token_beyond_loopback_is_served_with_a_warning() -> None:
    warning = check_bind("0.0.0.0", "short-token")
    assert warning is not None and "11-character token; use at least 16" in warning
    assert "at least 16" in (check_bind("10.0.0.5", "x" * 15) or "")
    assert check_bind("0.0.0.0", "x" * 16) is None
    assert check_bind("127.0.0.1", "short") is None  # loopback: any token (or none)
    assert check_bind("127.0.0.1", None) is None
    with pytest.raises(ConfigurationError, match="without a token"):
        check_bind("0.0.0.0", None)


def test_wrong_tokens_are_throttled_per_client(
    sqlite_demo: Conveyor, make_client: ClientFactory
) -> None:
    client = make_client(sqlite_demo, token=TOKEN)
    csrf = csrf_of(client, "/login")
    for _ in range(10):
        r = client.post("/login", data={"token": "guess", "csrf_token": csrf},
                        headers=SAME_ORIGIN)
        assert r.status_code == 401
    r = client.post("/login", data={"token": TOKEN, "csrf_token": csrf}, headers=SAME_ORIGIN)
    assert r.status_code == 429 and int(r.headers["retry-after"]) > 0
    assert "too many wrong tokens" in r.text
    r = client.get("/api/runs", headers={"Authorization": "Bearer wrong"})
    assert r.status_code == 429 and r.json()["error"].startswith("too many wrong tokens")


def test_the_throttle_forgets_old_failures() -> None:
    now = [0.0]
    throttle = Throttle(limit=3, window=10, clock=lambda: now[0])
    for _ in range(3):
        assert throttle.wait("a") == 0
        throttle.failed("a")
    assert throttle.wait("a") > 0 and throttle.wait("b") == 0
    now[0] += 11
    assert throttle.wait("a") == 0


@pytest.mark.parametrize("content_type, body", [
    ("application/x-www-form-urlencoded", b"payload=1"),
    ("multipart/form-data; boundary=xx",
     b'--xx\r\nContent-Disposition: form-data; name="payload"\r\n\r\n1\r\n--xx--\r\n'),
    ("text/plain", b"payload=1"),
    ("text/plain;charset=UTF-8", b"payload=1"),
    ("multipart/form-data; boundary=xx", b"--xx\r\ngarbage"),
])
def test_every_form_content_type_needs_the_csrf_token(
    sqlite_demo: Conveyor, make_client: ClientFactory, content_type: str, body: bytes
) -> None:
    """Even without Origin (an old browser, or a token-less dashboard): a cross-site form
    cannot run a job, on the pages or the API."""
    client = make_client(sqlite_demo)
    r = client.post("/jobs/echo/run", content=body, headers={"content-type": content_type})
    assert r.status_code == 403 and "CSRF" in r.text
    r = client.post("/api/jobs/echo/run", content=body, headers={"content-type": content_type})
    assert r.status_code == 415 and "form content types are refused" in r.json()["error"]
    r = client.post("/api/runs/1/cancel", headers={"content-type": content_type})
    assert r.status_code == 415
    assert sqlite_demo.count() == 0


def test_a_multipart_form_with_the_token_is_served(
    sqlite_demo: Conveyor, make_client: ClientFactory
) -> None:
    client = make_client(sqlite_demo)
    csrf = csrf_of(client)
    r = client.post("/jobs/echo/run", data={"payload": "7", "csrf_token": csrf},
                    files={"unused": ("a.txt", b"x")}, follow_redirects=False)
    assert r.status_code == 303, r.text
    (run,) = sqlite_demo.jobs_list()
    assert run.args == [7]


def test_api_clients_without_a_browser_are_served(
    sqlite_demo: Conveyor, make_client: ClientFactory
) -> None:
    """curl with JSON (no Origin, no cookie): a browser cannot send that cross-site
    without a CORS preflight, which the dashboard never grants."""
    client = make_client(sqlite_demo)
    assert client.post("/api/jobs/echo/run", json={"payload": 1}).status_code == 201
    r = client.options("/api/jobs/echo/run", headers={
        "Origin": "https://evil.example", "Access-Control-Request-Method": "POST"})
    assert "access-control-allow-origin" not in r.headers
    assert client.post("/api/jobs/echo/run", json={"payload": 1},
                       headers={**SAME_ORIGIN}).status_code == 403  # a browser: needs CSRF
    tokened = make_client(sqlite_demo, token=TOKEN)
    assert tokened.post("/api/jobs/echo/run", json={"payload": 1},
                        headers=BEARER).status_code == 201


def test_csrf_tokens_are_bound_to_the_browser(
    sqlite_demo: Conveyor, make_client: ClientFactory
) -> None:
    first, second = make_client(sqlite_demo), make_client(sqlite_demo)
    token = csrf_of(first)
    csrf_of(second)
    r = second.post("/jobs/echo/run", data={"payload": "1", "csrf_token": token},
                    headers=SAME_ORIGIN)
    assert r.status_code == 403
    assert re.fullmatch(r"[0-9a-f]{64}", token)
