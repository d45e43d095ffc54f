"""Hostile HTTP input gets a 4xx with a message, never a 500, on every store: bad JSON,
bad UTF-8, lone surrogates, deep nesting, NUL characters, over-long names, malformed
Origin headers, absurd numbers, and bodies too large (refused while they stream)."""

from __future__ import annotations

import asyncio
import dataclasses
from typing import Any

import pytest
from starlette.testclient import TestClient

from conveyor import Conveyor
from conveyor.dashboard import create_app
from conveyor.dashboard.guard import SECURITY_HEADERS
from tests.support import overwrite

from .conftest import ClientFactory
from .helpers import BASE, finish
from .test_pages import csrf_of

DEEP = b'{"payload": ' + b"[" * 100_000 + b"]" * 100_000 + b"}"
JSON = {"content-type": "application/json"}

BODIES: list[tuple[str, bytes]] = [
    ("invalid JSON", b'{"payload": '),
    ("invalid UTF-8", b'{"payload": "\xff\xfe"}'),
    ("lone surrogate", b'{"payload": "\\ud800"}'),
    ("lone surrogate key", b'{"payload": {"\\udfff": 1}}'),
    ("NUL in a value", b'{"payload": "a\\u0000b"}'),
    ("NUL in a key", b'{"payload": {"a\\u0000": 1}}'),
    ("nested 100k deep", DEEP),
    ("nested 150 deep", b'{"payload": ' + b"[" * 150 + b"]" * 150 + b"}"),
    ("not an object", b"[1, 2]"),
    ("huge number", b'{"payload": 1' + b"0" * 5000 + b"}"),
    ("1e999", b'{"payload": 1e999}'),
    ("NaN", b'{"payload": NaN}'),
]
EVENT_BODIES: list[tuple[str, bytes]] = [
    ("NUL in the id", b'{"name": "x", "id": "a\\u0000b"}'),  # a name is sanitised instead
    ("over-long id", b'{"name": "x", "id": "' + b"n" * 5000 + b'"}'),
    ("over-long multibyte id", b'{"name": "x", "id": "' + "é".encode() * 2000 + b'"}'),
    ("surrogate in the id", b'{"name": "x", "id": "\\ud800"}'),
    ("NUL deep in the payload", b'{"name": "x", "payload": {"a": [1, {"b": "\\u0000"}]}}'),
    ("nested 100k deep", b'{"name": "x", "payload": ' + b"[" * 100_000 + b"]" * 100_000 + b"}"),
]


@pytest.fixture
def client(demo: Conveyor, make_client: ClientFactory) -> TestClient:
    return make_client(demo, raise_server_exceptions=False)


@pytest.fixture
def one_store_client(sqlite_demo: Conveyor, make_client: ClientFactory) -> TestClient:
    """For checks made before any store is read (one store is enough)."""
    return make_client(sqlite_demo, raise_server_exceptions=False)


def _is_client_error(r: Any) -> None:
    assert 400 <= r.status_code < 500, (r.status_code, r.text[:300])


@pytest.mark.parametrize("name, body", BODIES, ids=[n for n, _ in BODIES])
def test_hostile_run_bodies_are_4xx_with_a_json_error(
    demo: Conveyor, client: TestClient, name: str, body: bytes
) -> None:
    r = client.post("/api/jobs/echo/run", content=body, headers=JSON)
    if r.status_code == 201:  # accepted only if the store holds it as given
        assert name in ("huge number",)
        return
    _is_client_error(r)
    assert r.json()["error"] and r.json()["status"] == r.status_code
    assert demo.count() == 0


@pytest.mark.parametrize("name, body", EVENT_BODIES, ids=[n for n, _ in EVENT_BODIES])
def test_hostile_event_bodies_are_4xx_with_a_json_error(
    client: TestClient, name: str, body: bytes
) -> None:
    r = client.post("/api/events", content=body, headers=JSON)
    _is_client_error(r)
    assert r.json()["error"]


def test_error_messages_name_the_problem(client: TestClient) -> None:
    def error(body: bytes) -> str:
        return str(client.post("/api/events", content=body, headers=JSON).json()["error"])

    assert "NUL" in error(b'{"name": "x", "payload": {"a": [1, "\\u0000"]}}')
    assert 'body["payload"]["a"][1]' in error(b'{"name": "x", "payload": {"a": [1, "\\u0000"]}}')
    assert "surrogate" in error(b'{"name": "x", "id": "\\ud800"}')
    assert "too long" in error(b'{"name": "x", "id": "' + b"n" * 5000 + b'"}')
    assert "nested too deeply" in error(b'{"name": "x", "payload": ' + b"[" * 100_000 + b"]"
                                        * 100_000 + b"}")


@pytest.mark.parametrize("url", [
    "/api/runs?job=a%00b", "/api/runs?q=%00", "/api/runs?owner=%ff%fe", "/api/runs?q=%ed%a0%80",
    "/api/runs?limit=99999999999999999999999", "/api/runs?before=-1", "/api/runs?limit=1e400",
    "/api/runs?before=" + "9" * 5000, "/api/runs?state=%00", "/api/runs?q=" + "x" * 9000,
    "/api/runs/99999999999999999999999", "/api/runs/-1", "/api/runs/%00", "/api/runs/1e5",
    "/api/jobs/%00", "/api/jobs/%ff", "/api/jobs/" + "j" * 3000, "/runs/%00", "/jobs/%c0%af",
    "/runs?q=%00", "/runs?limit=" + "9" * 40, "/runs/" + "9" * 40,
    "/api/runs?q=" + "é" * 3000,
])
def test_hostile_paths_and_query_strings_are_4xx(client: TestClient, url: str) -> None:
    r = client.get(url)
    _is_client_error(r)
    if url.startswith("/api/"):
        assert r.json()["error"]
    else:
        assert "text/html" in r.headers["content-type"]


@pytest.mark.parametrize("action", ["pause", "resume"])
def test_hostile_schedule_ids_are_4xx(client: TestClient, action: str) -> None:
    for schedule_id in ("%00", "%ff", "s" * 3000, "%ed%a0%80"):
        r = client.post(f"/api/schedules/{schedule_id}/{action}")
        _is_client_error(r)


@pytest.mark.parametrize("origin", [
    "http://[::1", "http://127.0.0.1:notaport", "http://127.0.0.1:99999", "javascript:x",
    "http://", "://", "null", "http://127.0.0.1\x7f", "http://evil.example",
    "http://127.0.0.1@evil.example",
])
def test_malformed_origin_headers_are_refused_with_403(
    sqlite_demo: Conveyor, one_store_client: TestClient, origin: str
) -> None:
    r = one_store_client.post("/api/jobs/echo/run", json={"payload": 1}, headers={"Origin": origin})
    assert r.status_code == 403, r.text
    assert "cross-site" in r.json()["error"]
    assert sqlite_demo.count() == 0


def test_a_body_over_the_limit_is_413_while_it_streams(demo: Conveyor) -> None:
    """Driven as raw ASGI (a test client buffers the body first): the app pulls chunks of
    a 100 MB chunked body only until it passes the limit."""
    pulled = 0
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        nonlocal pulled
        pulled += 1
        return {"type": "http.request", "body": b" " * 1_000_000, "more_body": pulled < 100}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    scope = {
        "type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "POST",
        "scheme": "http", "path": "/api/jobs/echo/run", "raw_path": b"/api/jobs/echo/run",
        "root_path": "", "query_string": b"", "client": ("127.0.0.1", 5000),
        "server": ("127.0.0.1", 8750),
        "headers": [(b"host", b"127.0.0.1"), (b"content-type", b"application/json"),
                    (b"transfer-encoding", b"chunked")],
    }
    asyncio.run(create_app(demo)(scope, receive, send))
    assert sent[0]["status"] == 413
    assert b"at most 1,048,576 bytes" in b"".join(m.get("body", b"") for m in sent[1:])
    assert pulled == 2  # refused after the first megabyte, never buffered
    assert demo.count() == 0


def test_a_declared_length_over_the_limit_is_413_before_reading(
    demo: Conveyor, make_client: ClientFactory
) -> None:
    client = make_client(demo)
    r = client.post("/api/events", content=b"x" * 2_000_000, headers=JSON)
    assert r.status_code == 413
    small = TestClient(create_app(demo, max_body=100), base_url=BASE)
    r = small.post("/api/jobs/echo/run", json={"payload": "x" * 200})
    assert r.status_code == 413 and "at most 100 bytes" in r.json()["error"]
    assert small.post("/api/jobs/echo/run", json={"payload": 1}).status_code == 201
    r = small.post("/jobs/echo/run", content=b"payload=" + b"1" * 200,
                   headers={"content-type": "application/x-www-form-urlencoded"})
    assert r.status_code == 413 and "text/html" in r.headers["content-type"]


def test_the_security_headers_are_on_every_response(
    demo: Conveyor, make_client: ClientFactory
) -> None:
    client = make_client(demo, token="t" * 32, raise_server_exceptions=False)
    responses = [
        client.get("/api/runs"),  # 401 from the middleware
        client.get("/", headers={"Host": "evil.example"}),  # 400 bad Host
        client.post("/api/events", json={}, headers={"Origin": "https://evil.example",
                                                     "Authorization": "Bearer " + "t" * 32}),
        client.post("/api/events", content=b"x" * 2_000_000, headers=JSON),  # 413
        client.get("/api/runs?q=%00"),  # 400 from the guard
        client.get("/nope", headers={"Authorization": "Bearer " + "t" * 32}),  # 404
        client.get("/login"),
    ]
    assert {r.status_code for r in responses} == {401, 400, 403, 413, 404, 200, 303} - {303}
    for r in responses:
        for name, value in SECURITY_HEADERS:
            assert r.headers[name.decode()] == value.decode(), (r.status_code, r.url)


@pytest.mark.parametrize("fields", [
    {"payload": '"\\u0000"'}, {"payload": '"\\ud800"'}, {"payload": "[" * 5000},
    {"payload": "\x00"}, {"args": "[1e999]"}, {"kwargs": '{"\\u0000": 1}'},
    {"payload": "1", "args": "[1]"},
], ids=lambda f: repr(f)[:30])
def test_hostile_run_forms_are_400_pages(
    sqlite_demo: Conveyor, one_store_client: TestClient, fields: dict[str, str]
) -> None:
    client = one_store_client
    csrf = csrf_of(client)
    r = client.post("/jobs/echo/run", data={**fields, "csrf_token": csrf})
    assert r.status_code == 400 and "text/html" in r.headers["content-type"], r.text[:300]
    assert sqlite_demo.count() == 0


@pytest.mark.parametrize("fields", [
    {"name": "x", "id": "a\x00"}, {"name": "x", "id": "é" * 2000},
    {"name": "x", "payload": '{"a": "\\u0000"}'}, {"name": "x", "payload": "[" * 5000},
], ids=lambda f: repr(f)[:30])
def test_hostile_event_forms_are_400_pages(
    one_store_client: TestClient, fields: dict[str, str]
) -> None:
    client = one_store_client
    csrf = csrf_of(client, "/events")
    r = client.post("/events", data={**fields, "csrf_token": csrf})
    assert r.status_code == 400 and "text/html" in r.headers["content-type"], r.text[:300]


def test_hostile_sign_in_input_is_4xx(
    sqlite_demo: Conveyor, make_client: ClientFactory
) -> None:
    client = make_client(sqlite_demo, token="t" * 20, raise_server_exceptions=False)
    csrf = csrf_of(client, "/login")
    form = "application/x-www-form-urlencoded"
    for body in (f"csrf_token={csrf}&token=%ff%fe", f"csrf_token={csrf}&token=%00",
                 f"csrf_token={csrf}&next=%00&token=x", "a=1&" * 3000):
        r = client.post("/login", content=body.encode(), headers={"content-type": form})
        _is_client_error(r)
    for cookie in ("a." * 3000, "a.99999999999999999999999.b", "\x7f"):
        r = client.get("/api/runs", headers={"Cookie": f"conveyor_session={cookie}"})
        assert r.status_code == 401
    r = client.get("/api/runs", headers={"Authorization": "Bearer é".encode("latin-1")})
    assert r.status_code == 401
    assert client.get("/login?next=%00").status_code == 400


def test_stored_text_that_cannot_be_encoded_never_breaks_a_reader(
    make_client: ClientFactory,
) -> None:
    """Data stored before today's limits (a memory store takes any str): lone surrogates,
    non-finite numbers and deep nesting are shown made safe, never a 500."""
    app = Conveyor("memory://")

    @app.job("echo")
    def echo(payload: Any) -> None:
        pass

    deep: Any = 1
    for _ in range(3000):
        deep = [deep]
    run_id = app.jobs["echo"](1).run_now().id
    stored = app.get_job(run_id)
    assert stored is not None
    record = dataclasses.replace(stored, args=[deep, "\udc80", float("nan")], key="k\ud800",
                                 result={"x": float("inf")})
    app.get_job = lambda _id: record  # type: ignore[method-assign]
    client = make_client(app, raise_server_exceptions=False)
    for path in (f"/api/runs/{run_id}", f"/runs/{run_id}"):
        r = client.get(path)
        assert r.status_code == 200, (path, r.text[:300])
    app.close()


def test_rows_conveyor_did_not_write_never_break_a_page_or_the_api(
    demo: Conveyor, make_client: ClientFactory,
) -> None:
    """Columns written by hand or by other software (not JSON, not their shape, times no
    datetime holds, NaN) in runs, durable steps, schedules and events."""

    @demo.job(trigger=demo.cron("* * * * *"))
    def minutely() -> None: ...

    @demo.job
    async def waiter(io: Any) -> Any:
        return await io.wait_for_event("w", "ping")

    demo.sync_schedules()
    ids = [demo.jobs["echo"](n).run_now().id for n in range(4)]
    failed, waiting = demo.jobs["explode"](1).run_now().id, waiter().run_now().id
    finish(demo)
    overwrite(demo, "jobs", ids[0], args="{x", kwargs="[1]", result="{x", history='{"a": 1}')
    overwrite(demo, "jobs", ids[1], state="failed", error="[1]", history='[1, {"number": "1"}]')
    overwrite(demo, "jobs", ids[2], run_at=-1e12, created_at=1e300, started_at=-1e300,
              finished_at=float("nan"), progress=float("nan"))
    overwrite(demo, "jobs", ids[3], job="gone", owner="abc", owner_int=True)
    overwrite(demo, "jobs", failed, error='{"type": 5, "message": ["x"], "traceback": {}}')
    overwrite(demo, "steps", waiting, key="job_id", input="{x", output="{x", error="[1]",
              history="{x")
    overwrite(demo, "schedules", "minutely", definition="{x")
    overwrite(demo, "events", demo.send_event("ping", 1).id, payload="{x")
    client = make_client(demo, raise_server_exceptions=False)
    runs = [*ids, failed, waiting]
    for path in ["/", "/jobs", "/runs", "/runs?state=failed", "/schedules", "/events",
                 "/queues", "/metrics", "/api/overview", "/api/runs", "/api/schedules",
                 "/api/events", *(f"/runs/{i}" for i in runs),
                 *(f"/api/runs/{i}" for i in runs)]:
        r = client.get(path)
        assert r.status_code == 200, (path, r.status_code, r.text[:300])
    assert client.get(f"/api/runs/{ids[0]}").json()["result"] == "{x"
