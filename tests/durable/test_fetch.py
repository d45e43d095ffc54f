"""io.background_fetch against a real local HTTP server: retries, redirects, redaction, and
the SSRF guard (schemes, private addresses, every redirect hop)."""

from __future__ import annotations

import ipaddress
import json
import threading
from collections.abc import Iterator
from http.server import ThreadingHTTPServer
from typing import Any

import pytest

from conveyor import Conveyor, Retry
from conveyor.durable import fetch
from tests.durable.helpers import finish
from tests.support import JsonHandler


class Server:
    def __init__(self) -> None:
        self.requests: list[tuple[str, str, dict[str, str], bytes]] = []
        self.flaky_left = 0
        server = self

        class Handler(JsonHandler):
            def do_GET(self) -> None:
                self._handle()

            def do_POST(self) -> None:
                self._handle()

            def _handle(self) -> None:
                length = int(self.headers.get("content-length") or 0)
                body = self.rfile.read(length) if length else b""
                server.requests.append((self.command, self.path, dict(self.headers), body))
                route = self.path.split("?")[0]
                if route == "/flaky" and server.flaky_left > 0:
                    server.flaky_left -= 1
                    return self.send_json(503, {"error": "busy"}, {"Retry-After": "0"})
                if route == "/always-busy":
                    return self.send_json(429, {"error": "slow down"}, {"Retry-After": "0"})
                if route.startswith("/redirect"):
                    target = self.path.split("to=", 1)[1]
                    return self.send_json(302, {}, {"Location": target})
                return self.send_json(200, {
                    "method": self.command, "path": self.path,
                    "body": json.loads(body) if body else None,
                    "authorized": self.headers.get("authorization") == "Bearer s3cret",
                }, {"Set-Cookie": "session=abc"})

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"


@pytest.fixture
def server() -> Iterator[Server]:
    srv = Server()
    thread = threading.Thread(target=srv.httpd.serve_forever, args=(0.02,), daemon=True)
    thread.start()
    yield srv
    srv.httpd.shutdown()
    srv.httpd.server_close()


@pytest.fixture
def open_app(store_url: str) -> Iterator[Conveyor]:
    """An app at the default: it may fetch private addresses (the server is on loopback)."""
    application = Conveyor(store_url, lease=2)
    yield application
    application.close()


@pytest.fixture
def guarded_app(store_url: str) -> Iterator[Conveyor]:
    """An app with the SSRF guard on: only public addresses may be fetched."""
    application = Conveyor(store_url, lease=2, allow_private_fetch=False)
    yield application
    application.close()


def fetching(app: Conveyor, url: str, **options: Any) -> Any:
    @app.job
    async def fetcher(payload: Any, io: Any) -> Any:
        return await io.background_fetch("call", url, **options)

    return finish(app, fetcher(None).run_now())


def test_background_fetch_returns_the_response_and_redacts_secrets_in_the_step(
    open_app: Conveyor, server: Server
) -> None:
    headers = {"Authorization": "Bearer s3cret", "X-Api-Key": "k1", "X-Trace": "t-1",
               "X-Session-Token": "tok"}
    record = fetching(open_app, server.url + "/data", method="POST", headers=headers,
                      json={"a": 1})
    assert record.state == "completed"
    assert record.result["status"] == 200
    assert record.result["body"] == {"method": "POST", "path": "/data", "body": {"a": 1},
                                     "authorized": True}
    assert record.result["headers"]["set-cookie"] == "[redacted]"
    (step,) = open_app.steps(record.id)
    assert step.kind == "fetch"
    assert step.input["headers"] == {"Authorization": "[redacted]", "X-Api-Key": "[redacted]",
                                     "X-Trace": "t-1", "X-Session-Token": "[redacted]"}
    stored = json.dumps([step.input, step.output])
    assert "s3cret" not in stored and "k1" not in stored and "abc" not in stored


def test_background_fetch_retries_busy_statuses_honouring_retry_after(
    open_app: Conveyor, server: Server
) -> None:
    server.flaky_left = 2
    record = fetching(open_app, server.url + "/flaky", retry=Retry(retries=3, wait=30))
    assert record.state == "completed" and record.result["status"] == 200
    (step,) = open_app.steps(record.id)
    assert step.attempts == 3
    assert [h["error"]["message"] for h in step.history] == [
        f"HTTP 503 from {server.url}/flaky"] * 2


def test_background_fetch_returns_the_last_busy_response_when_retries_run_out(
    open_app: Conveyor, server: Server
) -> None:
    record = fetching(open_app, server.url + "/always-busy", retry=Retry(retries=1))
    assert record.state == "completed"
    assert record.result["status"] == 429
    assert len(server.requests) == 2


def test_background_fetch_follows_redirects(open_app: Conveyor, server: Server) -> None:
    record = fetching(open_app, f"{server.url}/redirect?to={server.url}/final")
    assert record.result["status"] == 200
    assert record.result["url"] == f"{server.url}/final"
    assert [r[1] for r in server.requests] == [f"/redirect?to={server.url}/final", "/final"]


@pytest.mark.parametrize("url", ["file:///etc/passwd", "ftp://example.com/x", "gopher://x",
                                 "/relative/path"])
def test_background_fetch_refuses_non_http_schemes(app: Conveyor, url: str) -> None:
    record = fetching(app, url)
    assert record.state == "failed"
    assert record.error is not None
    assert record.error["type"] == "FetchRefused"
    assert "only absolute http:// and https:// URLs are accepted" in record.error["message"]


def test_background_fetch_refuses_private_addresses_when_the_app_guards_them(
    guarded_app: Conveyor, server: Server
) -> None:
    app = guarded_app
    record = fetching(app, server.url + "/data")
    assert record.state == "failed"
    assert record.error is not None
    assert "FetchRefused" in record.error["message"]
    assert "resolves to the non-public address 127.0.0.1" in record.error["message"]
    assert "allow_private_fetch=False" in record.error["message"]
    assert server.requests == []
    (step,) = app.steps(record.id)
    assert step.state == "failed" and step.attempts == 1  # a refusal is not retried


def test_background_fetch_checks_every_redirect_hop(
    guarded_app: Conveyor, server: Server, monkeypatch: pytest.MonkeyPatch
) -> None:
    app = guarded_app
    real = fetch.blocked
    # Pretend the test server's address is public, so only the redirect target is refused.
    monkeypatch.setattr(fetch, "blocked", lambda ip: ip != ipaddress.ip_address("127.0.0.1")
                        and real(ip))
    port = server.url.rsplit(":", 1)[1]
    record = fetching(app, f"{server.url}/redirect?to=http://127.0.0.2:{port}/secret")
    assert record.state == "failed"
    assert record.error is not None
    assert "non-public address 127.0.0.2" in record.error["message"]
    assert [r[1] for r in server.requests] == [f"/redirect?to=http://127.0.0.2:{port}/secret"]


@pytest.mark.parametrize("address", [
    "10.0.0.1", "172.16.5.4", "192.168.1.1", "127.0.0.1", "169.254.169.254", "224.0.0.1",
    "0.0.0.0", "100.64.0.1", "240.0.0.1", "::1", "fe80::1", "fc00::1", "ff02::1",
    "::ffff:127.0.0.1", "::ffff:10.0.0.1",
])
def test_non_public_addresses_are_blocked(address: str) -> None:
    assert fetch.blocked(ipaddress.ip_address(address))


@pytest.mark.parametrize("address", ["8.8.8.8", "1.1.1.1", "2606:4700:4700::1111"])
def test_public_addresses_are_allowed(address: str) -> None:
    assert not fetch.blocked(ipaddress.ip_address(address))


def test_secret_headers_are_recognised_by_name() -> None:
    assert fetch.redact({"Cookie": "a", "x-github-token": "b", "X-Secret": "c",
                         "Accept": "d"}) == {
        "Cookie": "[redacted]", "x-github-token": "[redacted]", "X-Secret": "[redacted]",
        "Accept": "d",
    }


async def test_a_guarded_request_connects_to_the_checked_address_keeping_host_and_tls_name(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import httpx

    async def resolved(url: httpx.URL) -> Any:
        return ipaddress.ip_address("93.184.216.34")

    monkeypatch.setattr(fetch, "resolve_public", resolved)
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, json={"ok": True})

    async with httpx.AsyncClient(transport=httpx.MockTransport(handler)) as client:
        response, content = await fetch._send(
            client, httpx.URL("https://api.example.com:8443/x?y=1"), "GET", {}, None, False
        )
    (request,) = seen
    assert str(request.url) == "https://93.184.216.34:8443/x?y=1"  # no second DNS lookup
    assert request.headers["host"] == "api.example.com:8443"
    assert request.extensions["sni_hostname"] == "api.example.com"  # TLS checks the name
    assert response.status_code == 200 and content == b'{"ok":true}'
