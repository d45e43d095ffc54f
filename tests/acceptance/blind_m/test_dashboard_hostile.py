"""SPEC §7, §8: the dashboard escapes every piece of user data in its pages, answers
malformed API input with 4xx JSON (never 500) and is CSRF-safe."""

from __future__ import annotations

import re
from urllib.parse import urljoin, urlsplit

import pytest
from starlette.applications import Starlette
from starlette.routing import Mount
from starlette.testclient import TestClient

from conveyor import Conveyor, Fail
from conveyor.testing import run_until_idle
from tests.acceptance.blind_m.support import HOSTILE, items_of

MARK = "<img src=x onerror=alert(7)>"


def _crawl(client: TestClient, start: str = "/", limit: int = 60) -> dict[str, str]:
    """Every page reachable from ``start`` by links under its first path segment (GET),
    at most ``limit``; each must answer (a link to a missing page is a broken link)."""
    root = "/" + start.strip("/").split("/")[0] if start.strip("/") else ""
    seen: dict[str, str] = {}
    todo = [start]
    while todo and len(seen) < limit:
        path = todo.pop(0)
        if path in seen:
            continue
        response = client.get(path)
        assert response.status_code < 400, (path, response.status_code, response.text[:300])
        seen[path] = response.text
        if "html" not in response.headers.get("content-type", ""):
            continue
        for href in re.findall(r'href="([^"#]+)"', response.text):
            target = urlsplit(urljoin(f"http://testserver{path}", href.replace("&amp;", "&")))
            if target.netloc != "testserver" or "/static/" in target.path:
                continue
            assert target.path.startswith(f"{root}/"), (path, href)  # stays under the mount
            todo.append(target.path + (f"?{target.query}" if target.query else ""))
    return seen


def test_hostile_names_payloads_errors_and_logs_are_escaped_on_every_page(
        app: Conveyor) -> None:
    @app.job(f"x{HOSTILE}", name=f"n{MARK}", queue=f"q{MARK}")
    def hostile(payload, meta):
        meta.log.info(f"log {HOSTILE}")
        meta.progress(0.5, message=f"progress {MARK}")
        raise Fail(f"why {HOSTILE}")

    hostile({"html": HOSTILE, MARK: MARK}).run_now()
    hostile({"html": "again"}).run_in(1, "hour", key=MARK, owner=MARK)
    app.send_event(f"event{MARK}", {"html": HOSTILE})
    run_until_idle(app)
    pages = _crawl(TestClient(app.asgi()))
    assert len(pages) > 3
    for path, text in pages.items():
        assert HOSTILE not in text and MARK not in text, path


@pytest.mark.parametrize("prefix", ["", "/ops/jobs"])
def test_every_link_leads_to_a_page_mounted_or_not(app: Conveyor, prefix: str) -> None:
    @app.job(trigger=app.every("5 minutes"))
    def tick():
        return 1

    @app.job
    def child(n):
        return n

    @app.job
    async def parent(io):
        return await io.run_jobs("kids", [child(1), child(2)])

    parent().run_now()
    app.send_event("order.paid", {"id": 1})
    app.run_worker(burst=True)
    web = Starlette(routes=[Mount(prefix, app=app.asgi(prefix=prefix))]) if prefix \
        else app.asgi()
    pages = _crawl(TestClient(web), f"{prefix}/")
    assert any("/runs/" in path for path in pages) and any("/jobs/" in path for path in pages)


def test_malformed_event_bodies_are_4xx_json(app: Conveyor) -> None:
    client = TestClient(app.asgi())
    bodies: list[bytes] = [b"{not json", b"[]", b'"name"', b"{}", b'{"name": 5}',
                           b'{"name": null}', b'{"name": "e", "payload": {"a": "\\u0000"}}',
                           b'{"name": "e", "payload": {"a": "\\ud800"}}', b"\xff\xfe",
                           b'{"name": "e", "id": {"x": 1}}']
    for body in bodies:
        response = client.post("/api/events", content=body,
                               headers={"content-type": "application/json"})
        assert 400 <= response.status_code < 500, (body, response.status_code)
        assert "error" in response.json(), body


def test_event_names_with_nul_are_sanitised_and_accepted(app: Conveyor) -> None:
    response = TestClient(app.asgi()).post("/api/events", json={"name": "ev\u0000il"})
    assert response.status_code < 300, response.text


def test_unknown_and_odd_paths_are_4xx_json(app: Conveyor) -> None:
    client = TestClient(app.asgi())
    for path in ("/api/runs/999999999", "/api/runs/abc", "/api/runs/-1",
                 "/api/runs/99999999999999999999999999", "/api/jobs/no-such-job"):
        response = client.get(path)
        assert 400 <= response.status_code < 500, (path, response.status_code)
        assert "error" in response.json(), path
    for path in ("/api/jobs/no-such-job/pause", "/api/jobs/no-such-job/resume"):
        response = client.post(path)
        assert 400 <= response.status_code < 500, (path, response.status_code)


def test_openapi_lists_the_event_and_pause_endpoints(app: Conveyor) -> None:
    spec = TestClient(app.asgi()).get("/api/openapi.json").json()
    paths = spec["paths"]
    assert "post" in paths["/api/events"]
    assert any("/api/queues/" in p and p.endswith("/pause") for p in paths)
    assert any("/api/jobs/" in p and p.endswith("/resume") for p in paths)


def test_token_protects_api_and_metrics_and_pages_show_only_a_sign_in(app: Conveyor) -> None:
    @app.job(f"secret{MARK}")
    def secret(payload=None):
        return payload

    secret({"card": "4111"}).run_now()
    client = TestClient(app.asgi(token="s3cret-blindm"))
    for path in ("/api/runs", "/api/jobs", "/metrics", "/api/openapi.json", "/api/runs/1"):
        for headers in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": "s3cret-blindm"}):
            assert client.get(path, headers=headers).status_code in (401, 403), (path, headers)
    for page in ("/", "/runs", "/runs/1", "/jobs"):
        assert "4111" not in client.get(page).text and "secret" not in client.get(page).text
    good = {"Authorization": "Bearer s3cret-blindm"}
    assert client.get("/api/runs", headers=good).status_code == 200
    assert client.post("/api/events", json={"name": "e"}, headers=good).status_code < 300
    for cross in ({"Origin": "https://evil.example"}, {"Sec-Fetch-Site": "cross-site"}):
        refused = client.post("/api/events", json={"name": "e"}, headers={**good, **cross})
        assert refused.status_code == 403, cross


def test_sign_in_form_sets_an_http_only_same_site_cookie(app: Conveyor) -> None:
    client = TestClient(app.asgi(token="s3cret-blindm"))
    form = client.get("/").text
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', form)
    assert csrf is not None
    wrong = client.post("/login", data={"token": "nope", "csrf_token": csrf.group(1)},
                        follow_redirects=False)
    assert "set-cookie" not in wrong.headers or client.get("/api/runs").status_code == 401
    signed = client.post("/login", data={"token": "s3cret-blindm", "csrf_token": csrf.group(1)},
                         follow_redirects=False)
    cookie = signed.headers["set-cookie"].lower()
    assert "httponly" in cookie and "samesite" in cookie
    assert client.get("/api/runs").status_code == 200
    assert client.post("/login", data={"token": "s3cret-blindm"},
                       headers={"Origin": "https://evil.example"}).status_code == 403


def test_cross_site_actions_are_refused_without_a_token_too(app: Conveyor) -> None:
    @app.job
    def later(payload=None):
        return payload

    handle = later({}).run_in(1, "hour")
    client = TestClient(app.asgi())
    for cross in ({"Origin": "https://evil.example"}, {"Sec-Fetch-Site": "cross-site"}):
        assert client.post("/api/events", json={"name": "e"},
                           headers=cross).status_code == 403
        assert client.post("/api/queues/default/pause", headers=cross).status_code == 403
    assert app.paused_jobs() == [] and all(not q.paused for q in app.queues())
    record = app.get_job(handle.id)
    assert record is not None and record.state == "scheduled"


def test_api_lists_runs_with_iso_utc_datetimes(app: Conveyor) -> None:
    @app.job
    def ping(payload=None):
        return "pong"

    ping({}).run_now()
    run_until_idle(app)
    runs = items_of(TestClient(app.asgi()).get("/api/runs").json())
    assert runs
    for key in ("created_at", "finished_at"):
        value = runs[0].get(key)
        assert isinstance(value, str) and value.endswith(("Z", "+00:00")), (key, value)
