"""Blind tests of SPEC §7's dashboard and JSON API (``app.asgi()``, §11) on SQLite and
PostgreSQL: actions, 4xx JSON answers, escaping, token and CSRF rules."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest
from starlette.testclient import TestClient

from conveyor import Conveyor, Fail
from tests.acceptance.support import record_of

HOSTILE = "<script>alert(1)</script>"
IMG = "<img src=x onerror=alert(1)>"


@pytest.fixture
def hostile(app: Conveyor) -> Conveyor:
    @app.job("<b>evil</b>", name=HOSTILE, version="1.0.0")
    def evil(payload: Any = None, *args: Any, **kwargs: Any) -> Any:
        return {"payload": payload, "args": list(args), "kwargs": kwargs}

    @app.job("boom")
    def boom(payload: Any = None) -> None:
        raise Fail(IMG)

    @app.job("on-event", trigger=app.event("user.created", filter={"plan": ["pro"]}))
    def on_event(payload: Any) -> Any:
        return payload

    return app


@pytest.fixture
def client(hostile: Conveyor) -> Iterator[TestClient]:
    with TestClient(hostile.asgi(), base_url="http://127.0.0.1") as test_client:
        yield test_client


def slug_of(client: TestClient, job: str) -> str:
    jobs = client.get("/api/jobs").json()["jobs"]
    return next(j["slug"] for j in jobs if j["id"] == job)


@pytest.mark.parametrize(
    ("body", "args", "kwargs"),
    [
        ({"payload": {"x": IMG}}, [{"x": IMG}], {}),
        ({"args": [1, "two"]}, [1, "two"], {}),
        ({"kwargs": {"k": [True]}}, [], {"k": [True]}),
    ],
)
def test_run_now_takes_payload_args_or_kwargs(
    hostile: Conveyor,
    client: TestClient,
    body: dict[str, Any],
    args: list[Any],
    kwargs: dict[str, Any],
) -> None:
    answer = client.post(f"/api/jobs/{slug_of(client, '<b>evil</b>')}/run", json=body)
    assert answer.status_code in (200, 201), answer.text
    record = record_of(hostile, answer.json()["id"])
    assert (record.args, record.kwargs) == (args, kwargs)
    assert record.state == "queued"


@pytest.mark.parametrize(
    ("path", "body"),
    [
        ("/api/jobs/no-such-job/run", {"payload": 1}),
        ("/api/jobs/b-evil-b/run", b"{not json"),
        ("/api/jobs/b-evil-b/run", {"args": {"a": 1}}),
        ("/api/jobs/b-evil-b/run", {"kwargs": [1]}),
        ("/api/jobs/b-evil-b/run", {"payload": {"a": float("nan")}}),
        ("/api/jobs/b-evil-b/run", [1, 2]),
        ("/api/runs/999999/cancel", None),
        ("/api/runs/abc/retry", None),
        ("/api/runs/-1/cancel", None),
        ("/api/runs/99999999999999999999999/retry", None),
        ("/api/events", {"payload": {}}),
        ("/api/events", {"name": 5}),
        ("/api/events", {"name": "x", "payload": "not an object", "id": [1]}),
        ("/api/events", b"\xff\xfe"),
        ("/api/queues/%00/pause", None),
    ],
)
def test_malformed_requests_get_4xx_json(client: TestClient, path: str, body: Any) -> None:
    if isinstance(body, bytes):
        answer = client.post(path, content=body, headers={"Content-Type": "application/json"})
    elif body is None:
        answer = client.post(path)
    else:
        answer = client.post(
            path, content=_dumps(body), headers={"Content-Type": "application/json"}
        )
    assert 400 <= answer.status_code < 500, (answer.status_code, answer.text)
    assert "error" in answer.json()


def _dumps(body: Any) -> str:
    import json

    return json.dumps(body)


def test_cancel_and_retry_act_on_the_run(hostile: Conveyor, client: TestClient) -> None:
    later = hostile.jobs["<b>evil</b>"]("x").run_in(1, "hour")
    assert client.post(f"/api/runs/{later.id}/cancel").status_code == 200
    assert record_of(hostile, later.id).state == "cancelled"
    failed = hostile.jobs.boom("y").run_now()
    hostile.run_worker(concurrency=2, burst=True)
    assert record_of(hostile, failed.id).state == "failed"
    assert client.post(f"/api/runs/{failed.id}/retry").status_code == 200
    assert record_of(hostile, failed.id).state in ("queued", "scheduled")
    done = hostile.jobs["<b>evil</b>"]("z").run_now()
    hostile.run_worker(concurrency=2, burst=True)
    answer = client.post(f"/api/runs/{done.id}/cancel")
    assert 400 <= answer.status_code < 500 or answer.status_code == 200, answer.text
    assert record_of(hostile, done.id).state == "completed"


def test_events_posted_twice_with_one_id_start_once(hostile: Conveyor, client: TestClient) -> None:
    body = {"name": "user.created", "payload": {"plan": "pro"}, "id": "evt-1"}
    for _ in range(2):
        answer = client.post("/api/events", json=body)
        assert answer.status_code in (200, 201, 202), answer.text
    client.post("/api/events", json={"name": "user.created", "payload": {"plan": "free"}})
    runs = hostile.jobs_list(job="on-event")
    assert len(runs) == 1 and runs[0].args == [{"plan": "pro"}]


def test_pages_escape_hostile_names_payloads_and_errors(
    hostile: Conveyor, client: TestClient
) -> None:
    ok = hostile.jobs["<b>evil</b>"]({"x": IMG}).run_now()
    bad = hostile.jobs.boom(IMG).run_now()
    hostile.run_worker(concurrency=2, burst=True)
    slug = slug_of(client, "<b>evil</b>")
    pages = [
        "/",
        "/jobs",
        f"/jobs/{slug}",
        "/runs",
        f"/runs/{ok.id}",
        f"/runs/{bad.id}",
        "/runs?state=failed",
        f"/runs?q={IMG}",
        "/schedules",
        "/events",
        "/queues",
    ]
    for page in pages:
        answer = client.get(page)
        assert answer.status_code == 200, (page, answer.status_code)
        assert HOSTILE not in answer.text and IMG not in answer.text, page
        assert "<b>evil</b>" not in answer.text, page


def test_a_token_guards_the_api_and_cross_site_posts_are_refused(hostile: Conveyor) -> None:
    run = hostile.jobs["<b>evil</b>"]().run_in(1, "day")
    with TestClient(hostile.asgi(token="s3cret"), base_url="http://127.0.0.1") as guarded:
        assert guarded.get("/api/runs").status_code == 401
        assert guarded.post(f"/api/runs/{run.id}/cancel").status_code in (401, 403)
        bearer = {"Authorization": "Bearer s3cret"}
        assert guarded.get("/api/runs", headers=bearer).status_code == 200
        wrong = {"Authorization": "Bearer s3cret2"}
        assert guarded.get("/api/runs", headers=wrong).status_code == 401
        evil = {**bearer, "Origin": "https://evil.example", "Sec-Fetch-Site": "cross-site"}
        assert guarded.post(f"/api/runs/{run.id}/cancel", headers=evil).status_code == 403
        assert record_of(hostile, run.id).state == "scheduled"
        assert guarded.post(f"/api/runs/{run.id}/cancel", headers=bearer).status_code == 200
    assert record_of(hostile, run.id).state == "cancelled"


def test_openapi_and_metrics(hostile: Conveyor, client: TestClient) -> None:
    spec = client.get("/api/openapi.json")
    assert spec.status_code == 200 and "/api/events" in spec.json()["paths"]
    hostile.jobs["<b>evil</b>"]().run_now()
    hostile.jobs.boom().run_now()
    hostile.run_worker(concurrency=2, burst=True)
    metrics = client.get("/metrics")
    assert metrics.status_code == 200
    assert metrics.headers["content-type"].startswith("text/plain")
    text = metrics.text
    for name in (
        "conveyor_attempts_started_total",
        "conveyor_attempts_completed_total",
        "conveyor_attempts_failed_total",
        "conveyor_attempts_retried_total",
        "conveyor_run_duration_seconds_bucket",
        "conveyor_start_latency_seconds",
        "conveyor_jobs",
        "conveyor_workers_alive",
    ):
        assert name in text, name
    assert 'state="completed"' in text and 'state="failed"' in text
    assert 'job="boom"' in text
    assert "<b>evil</b>" not in text or 'job="<b>evil</b>"' in text


def test_sign_in_form_sets_an_http_only_same_site_cookie(hostile: Conveyor) -> None:
    with TestClient(
        hostile.asgi(token="s3cret"), base_url="http://127.0.0.1", follow_redirects=False
    ) as guarded:
        assert guarded.get("/metrics").status_code == 401
        page = guarded.get("/login")
        found = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
        assert page.status_code == 200 and found is not None
        form = {"csrf_token": found.group(1)}
        assert guarded.post("/login", data={**form, "token": "nope"}).status_code == 401
        assert guarded.post("/login", data={"token": "s3cret"}).status_code == 403
        signed = guarded.post("/login?next=//evil.example/x", data={**form, "token": "s3cret"})
        assert signed.status_code in (302, 303)
        assert not signed.headers["location"].startswith(("//", "http"))
        cookie = signed.headers["set-cookie"].lower()
        assert "httponly" in cookie and "samesite" in cookie
        assert guarded.get("/runs").status_code == 200
        assert guarded.get("/metrics").status_code == 200
