"""SPEC §7 dashboard and §8 HTTP API through ``app.asgi()``: run now and events with
unicode and odd-but-valid bodies, every malformed request a 4xx JSON ``{"error": ...}``
(never a 500, never HTML under /api), user data escaped in pages."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from starlette.testclient import TestClient

from conveyor import Conveyor

HOSTILE = '<script>alert("x")</script>'


@pytest.fixture
def client(app: Conveyor) -> Iterator[TestClient]:
    @app.job("ünï job", queue="fïlé 📦")
    def uni(payload: Any = None) -> Any:
        return payload

    @app.job
    def add(a: int, b: int = 0) -> int:
        return a + b

    with TestClient(app.asgi(), base_url="http://127.0.0.1",
                    raise_server_exceptions=False) as http:
        yield http


def _slug(client: TestClient, job: str) -> str:
    [row] = [j for j in client.get("/api/jobs").json()["jobs"] if j["id"] == job]
    return str(row["slug"])


@pytest.mark.parametrize("body, args, kwargs", [
    ({"payload": {"ñ": [0, -1, 1.5, None, True, "✓"]}}, [{"ñ": [0, -1, 1.5, None, True, "✓"]}],
     {}),
    ({"payload": None}, [None], {}),
    ({"payload": ""}, [""], {}),
    ({"args": []}, [], {}),
    ({"kwargs": {"payload": 2**53}}, [], {"payload": 2**53}),
])
def test_run_now_with_odd_valid_bodies(app: Conveyor, client: TestClient, body: dict,
                                       args: list, kwargs: dict) -> None:
    answer = client.post(f"/api/jobs/{_slug(client, 'ünï job')}/run", json=body)
    assert answer.status_code == 201, answer.text

    record = app.get_job(answer.json()["id"])
    assert (record.job, record.queue, record.args, record.kwargs) == (
        "ünï job", "fïlé 📦", args, kwargs)
    app.run_worker(burst=True)
    detail = client.get(f"/api/runs/{record.id}").json()
    assert detail["state"] == "completed"


def test_events_api_dedupes_by_a_unicode_id(app: Conveyor, client: TestClient) -> None:
    got: list[Any] = []

    @app.job("on-ünï", trigger=app.event("ünï.créé", filter={"plan": ["pro ✓"]}))
    def on_event(payload: Any) -> None:
        got.append(payload)

    body = {"name": "ünï.créé", "payload": {"plan": "pro ✓", "n": 0}, "id": "évt-1"}
    for _ in range(2):
        answer = client.post("/api/events", json=body)
        assert 200 <= answer.status_code < 300, answer.text
    miss = client.post("/api/events", json={"name": "ünï.créé", "payload": {"plan": "free"}})
    assert 200 <= miss.status_code < 300

    app.run_worker(burst=True)
    assert got == [{"plan": "pro ✓", "n": 0}]


@pytest.mark.parametrize("method, path, body", [
    ("POST", "/api/events", b"{oops"),
    ("POST", "/api/events", b"[]"),
    ("POST", "/api/events", b'{"payload": {}}'),
    ("POST", "/api/events", b'{"name": ""}'),
    ("POST", "/api/events", b'{"name": 7}'),
    ("POST", "/api/events", b'{"name": "a", "id": 5}'),
    ("POST", "/api/events", b'{"name": "a", "payload": {"x": NaN}}'),
    ("POST", "/api/events", b'{"name": "a", "payload": {"x": "\\u0000"}}'),
    ("POST", "/api/events", b'{"name": "a", "payload": {"x": "\\ud800"}}'),
    ("POST", "/api/events", b"\xff\xfe"),
    ("POST", "/api/jobs/add/run", b'{"args": {"a": 1}}'),
    ("POST", "/api/jobs/add/run", b'{"kwargs": [1]}'),
    ("POST", "/api/jobs/add/run", b'{"args": [1], "payload": 1}'),
    ("POST", "/api/jobs/add/run", b'{"kwargs": {"zzz": 1}}'),
    ("POST", "/api/jobs/add/run", b'{"priority": "high"}'),
    ("POST", "/api/jobs/nope/run", b'{"payload": 1}'),
    ("POST", "/api/runs/0/cancel", b""),
    ("POST", "/api/runs/abc/retry", b""),
    ("POST", "/api/runs/99999999999999999999/cancel", b""),
    ("POST", "/api/queues/%00/pause", b""),
    ("POST", "/api/jobs/nope/pause", b""),
    ("GET", "/api/runs?state=done", None),
    ("GET", "/api/runs?limit=0", None),
    ("GET", "/api/runs?limit=abc", None),
    ("GET", "/api/runs?owner=%00", None),
    ("GET", "/api/runs/-1", None),
    ("GET", "/api", None),
    ("GET", "/api/nothing-here", None),
    ("DELETE", "/api/runs", None),
])
def test_malformed_requests_get_a_4xx_json_error(client: TestClient, method: str, path: str,
                                                 body: bytes | None) -> None:
    answer = client.request(method, path, content=body,
                            headers={"content-type": "application/json"})
    assert 400 <= answer.status_code < 500, answer.text
    assert answer.headers["content-type"].startswith("application/json")
    assert isinstance(answer.json()["error"], str) and answer.json()["error"]


def test_a_body_over_the_cap_is_413(client: TestClient) -> None:
    big = b'{"name": "a", "payload": {"x": "' + b"y" * (1024 * 1024 + 10) + b'"}}'
    answer = client.post("/api/events", content=big,
                         headers={"content-type": "application/json"})
    assert answer.status_code == 413 and "error" in answer.json()


def test_pages_escape_hostile_user_data(app: Conveyor, client: TestClient) -> None:
    @app.job(HOSTILE, queue=HOSTILE)
    def evil(payload: Any, meta: Any) -> None:
        meta.log.info(HOSTILE)
        meta.progress(50, message=HOSTILE)
        raise ValueError(HOSTILE)

    handle = evil({HOSTILE: HOSTILE}).run_now(owner=HOSTILE, key=HOSTILE)
    app.run_worker(burst=True)
    app.send_event(HOSTILE, {HOSTILE: HOSTILE})

    for path in ("/", "/runs", f"/runs/{handle.id}", "/jobs", "/queues", "/schedules",
                 "/events", "/runs?q=%3Cscript%3E"):
        page = client.get(path)
        assert page.status_code == 200, path
        assert "<script>alert" not in page.text, path


def test_queue_and_job_pause_through_the_api(app: Conveyor, client: TestClient) -> None:
    paused = client.post("/api/queues/f%C3%AFl%C3%A9%20%F0%9F%93%A6/pause")
    assert paused.status_code == 200, paused.text
    held = app.jobs["ünï job"]("x").run_now()
    app.run_worker(burst=True)
    assert app.get_job(held.id).state == "queued"
    assert [q.paused for q in app.queues() if q.name == "fïlé 📦"] == [True]

    assert client.post("/api/queues/f%C3%AFl%C3%A9%20%F0%9F%93%A6/resume").status_code == 200
    assert client.post("/api/jobs/add/pause").status_code == 200
    assert app.paused_jobs() == ["add"]
    app.run_worker(burst=True)
    assert app.get_job(held.id).state == "completed"


@pytest.mark.parametrize("prefix", ["/tâches", "/t%C3%A2ches"])
def test_mounted_under_a_non_ascii_prefix(app: Conveyor, prefix: str) -> None:
    from starlette.applications import Starlette
    from starlette.routing import Mount

    @app.job
    def echo(payload: Any = None) -> Any:
        return payload

    web = Starlette(routes=[Mount("/tâches", app=app.asgi(token="s3cret", prefix=prefix))])
    with TestClient(web, base_url="http://127.0.0.1") as http:
        redirect = http.get("/t%C3%A2ches/runs", follow_redirects=False)
        assert redirect.status_code in (302, 303, 307)
        assert redirect.headers["location"].startswith("/t%C3%A2ches/")
        login = http.get(redirect.headers["location"])
        assert login.status_code == 200 and 'action="/t%C3%A2ches/' in login.text
        api = http.get("/t%C3%A2ches/api/runs", headers={"Authorization": "Bearer s3cret"})
        assert api.status_code == 200 and api.json()["runs"] == []
        spec = http.get("/t%C3%A2ches/api/openapi.json",
                        headers={"Authorization": "Bearer s3cret"}).json()
        assert spec["servers"] == [{"url": "/t%C3%A2ches"}]


def test_sign_in_then_the_run_now_form_takes_payload_args_or_kwargs(app: Conveyor) -> None:
    import re

    @app.job("ädd")
    def add(a: int, b: int = 0) -> int:
        return a + b

    with TestClient(app.asgi(token="s3cret"), base_url="http://127.0.0.1") as http:
        form = http.get("/login").text
        csrf = re.search(r'name="csrf_token" value="([^"]+)"', form).group(1)  # type: ignore[union-attr]
        signed = http.post("/login", data={"token": "s3cret", "csrf_token": csrf, "next": "/"},
                           follow_redirects=False)
        cookie = signed.headers["set-cookie"].lower()
        assert "httponly" in cookie and "samesite" in cookie
        page = http.get(f"/jobs/{_slug(http, 'ädd')}")
        csrf = re.search(r'name="csrf_token" value="([^"]+)"', page.text).group(1)  # type: ignore[union-attr]
        action = re.search(r'<form[^>]*action="([^"]+/run)"', page.text).group(1)  # type: ignore[union-attr]

        for fields in ({"kwargs": '{"a": 2, "b": 3}'}, {"args": "[-1, 1]"}, {"payload": "0"}):
            posted = http.post(action, data={**fields, "csrf_token": csrf},
                               follow_redirects=False)
            assert posted.status_code == 303, posted.text
        bad = http.post(action, data={"args": "{oops", "csrf_token": csrf})
        assert bad.status_code == 400 and "args" in bad.text
        assert http.post(action, data={"args": "[1]"}).status_code == 403
        assert http.post(action, data={"args": "[1]", "csrf_token": csrf},
                         headers={"Origin": "https://evil.example"}).status_code == 403

    app.run_worker(burst=True)
    assert sorted(r.result for r in app.jobs_list()) == [0, 0, 5]
