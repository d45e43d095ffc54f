"""Blind acceptance tests of SPEC §7 (dashboard and HTTP API); every store."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
from starlette.applications import Starlette
from starlette.routing import Mount
from starlette.testclient import TestClient

from conveyor import Conveyor, Retry
from tests.acceptance.blind_surface.support import (
    _client,
    _id_in,
    _slug,
)
from tests.conformance.helpers import drain


def test_post_event_with_unicode_name_starts_runs_once_per_id(app: Conveyor) -> None:
    @app.job(trigger=app.event("ünïcode.évent", filter={"tier": ["🥇"]}))
    def on_event(payload: Any) -> Any:
        return payload

    client = _client(app)
    for _ in range(2):
        reply = client.post("/api/events", json={"name": "ünïcode.évent",
                                                 "payload": {"tier": "🥇"}, "id": "ev-1"})
        assert reply.status_code < 300, reply.text
    client.post("/api/events", json={"name": "ünïcode.évent", "payload": {"tier": "🥈"}})
    assert len(app.jobs_list(job="on_event")) == 1


@pytest.mark.parametrize("body", ["{", "[]", '{"payload": {}}', '{"name": 5}',
                                  '{"name": "", "payload": {}}'])
def test_malformed_events_are_4xx_json(app: Conveyor, body: str) -> None:
    reply = _client(app).post("/api/events", content=body,
                              headers={"Content-Type": "application/json"})
    assert 400 <= reply.status_code < 500
    assert "error" in reply.json()


def test_an_oversized_body_is_413(app: Conveyor) -> None:
    big = json.dumps({"name": "x", "payload": {"blob": "a" * (1024 * 1024 + 10)}})
    reply = _client(app).post("/api/events", content=big,
                              headers={"Content-Type": "application/json"})
    assert reply.status_code == 413
    assert "error" in reply.json()


def test_run_now_retry_and_cancel_through_the_api(app: Conveyor) -> None:
    @app.job("ñandú", retry=Retry(retries=0))
    def nandu(payload: Any) -> Any:
        if payload.get("fail"):
            raise RuntimeError("nope")
        return payload

    client = _client(app)
    made = client.post("/api/jobs/" + _slug(client, "ñandú") + "/run",
                       json={"payload": {"fail": True}})
    assert made.status_code == 201, made.text
    run_id = _id_in(made.json())
    drain(app)
    assert app.get_job(run_id).state == "failed"  # type: ignore[union-attr]
    assert client.post(f"/api/runs/{run_id}/retry").status_code < 300
    assert app.get_job(run_id).state in ("queued", "scheduled")  # type: ignore[union-attr]
    assert client.post(f"/api/runs/{run_id}/cancel").status_code < 300
    assert app.get_job(run_id).state == "cancelled"  # type: ignore[union-attr]
    detail = client.get(f"/api/runs/{run_id}")
    assert detail.status_code == 200 and "nope" in detail.text


@pytest.mark.parametrize(("method", "path"), [
    ("POST", "/api/runs/987654321/cancel"), ("POST", "/api/runs/abc/cancel"),
    ("POST", "/api/runs/0/retry"), ("POST", "/api/jobs/no-such-job/pause"),
    ("GET", "/api/runs/99999999999999999999999"),
    ("POST", "/api/runs/99999999999999999999999/cancel"),
    ("GET", "/api/runs?state=bogus"), ("GET", "/api/runs?limit=-1"), ("GET", "/api/runs?limit=0"),
    ("GET", "/api/runs?before=abc"), ("GET", "/api/runs?limit=99999999999999999999999"),
    ("GET", "/api/runs?parent=99999999999999999999999"), ("GET", "/api/runs?owner=" + "x" * 5000),
    ("GET", "/api/runs?q=" + "x" * 30_000),
])
def test_bad_ids_and_filters_are_4xx_json(app: Conveyor, method: str, path: str) -> None:
    reply = _client(app).request(method, path)
    assert 400 <= reply.status_code < 500, reply.text
    if reply.status_code != 414:
        assert "error" in reply.json()


def test_pause_a_unicode_queue_through_the_api(app: Conveyor) -> None:
    app.queue("files-ü", concurrency=3)
    client = _client(app)
    assert client.post("/api/queues/files-%C3%BC/pause").status_code < 300
    info = {q.name: q for q in app.queues()}
    assert info["files-ü"].paused is True
    assert client.post("/api/queues/files-%C3%BC/resume").status_code < 300
    assert {q.name: q for q in app.queues()}["files-ü"].paused is False


def test_a_token_protects_the_api(app: Conveyor, monkeypatch: pytest.MonkeyPatch) -> None:
    token = "s3cr3t-✓".encode().hex()
    client = _client(app, token=token)
    assert client.get("/api/runs").status_code == 401
    assert client.get("/api/runs", headers={"Authorization": "Bearer wrong"}).status_code == 401
    assert client.get("/api/runs", headers={"Authorization": f"Bearer {token}"}
                      ).status_code == 200
    reply = client.post("/api/events", json={"name": "x", "payload": {}},
                        headers={"Authorization": f"Bearer {token}"})
    assert reply.status_code < 300

    monkeypatch.setenv("CONVEYOR_TOKEN", "from-env-✓".encode().hex())
    assert _client(app).get("/api/runs").status_code == 401


def test_cross_site_posts_are_refused(app: Conveyor) -> None:
    reply = _client(app).post("/api/events", json={"name": "x", "payload": {}},
                              headers={"Origin": "https://evil.example",
                                       "Sec-Fetch-Site": "cross-site"})
    assert reply.status_code == 403
    assert app.jobs_list() == []


def test_the_dashboard_mounts_under_a_prefix(app: Conveyor) -> None:
    outer = Starlette(routes=[Mount("/ops/jobs", app=app.asgi(prefix="/ops/jobs"))])
    with TestClient(outer) as client:
        assert client.get("/ops/jobs/api/openapi.json").status_code == 200


def test_metrics_count_jobs_by_state_and_queue_and_attempts_by_job(app: Conveyor) -> None:
    @app.job(queue="métriques")
    def measured() -> None: ...

    measured().run_now()
    measured().run_in(1, "day")
    drain(app)
    text = _client(app).get("/metrics").text
    lines = [line for line in text.splitlines()
             if line.startswith("conveyor_jobs{") and 'queue="métriques"' in line]
    by_state = {re.search(r'state="(\w+)"', line).group(1):  # type: ignore[union-attr]
                float(line.rsplit(" ", 1)[1]) for line in lines}
    assert by_state["completed"] == 1 and by_state["scheduled"] == 1

    @app.job(retry=Retry(retries=1, wait=0))
    def counted(fail: bool, meta: Any) -> None:
        if fail:
            raise RuntimeError("x")

    def values() -> dict[str, float]:
        text = _client(app).get("/metrics").text
        found = dict.fromkeys(("started", "completed", "retried", "failed"), 0.0)
        for line in text.splitlines():
            name = re.match(r"conveyor_attempts_(\w+)_total\{.*job=\"counted\"", line)
            if name:
                found[name.group(1)] += float(line.rsplit(" ", 1)[1])
        return found

    before = values()  # counters are the process's, so other tests may have moved them
    counted(False).run_now()
    counted(True).run_now()
    drain(app)
    after = values()
    assert {k: after[k] - before[k] for k in after} == {
        "started": 3, "completed": 1, "retried": 1, "failed": 1}


def test_user_data_in_pages_is_escaped(app: Conveyor) -> None:
    @app.job
    def xss(payload: Any) -> None:
        raise RuntimeError("<script>alert(1)</script>")

    h = xss("<img src=x onerror=alert(1)>").run_now()
    drain(app)
    client = _client(app)
    pages = [client.get(path) for path in ("/", f"/runs/{h.id}")]
    html = "".join(p.text for p in pages if p.status_code == 200)
    assert html
    assert "<script>alert(1)</script>" not in html
    assert "<img src=x" not in html
