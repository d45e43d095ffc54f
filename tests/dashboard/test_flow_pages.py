"""The queues page, its pause/resume forms and API, and held runs on the run page."""

from __future__ import annotations

from conveyor import Conveyor

from .conftest import ClientFactory
from .helpers import finish
from .test_pages import csrf_of
from .test_security import SAME_ORIGIN


def test_queues_page_pauses_and_resumes_a_queue_and_a_job(
    demo: Conveyor, make_client: ClientFactory
) -> None:
    held = demo.jobs["echo"]({"n": 1}).run_now(queue="exports")
    client = make_client(demo)
    page = client.get("/queues")
    assert page.status_code == 200 and "exports" in page.text and "Pause" in page.text
    token = csrf_of(client, "/queues")
    r = client.post("/queues/exports/pause", data={"csrf_token": token}, headers=SAME_ORIGIN,
                    follow_redirects=False)
    assert r.status_code == 303
    finish(demo)
    assert held.state == "queued"
    page = client.get("/queues").text
    assert 'data-queue="exports" class="paused"' in page and "(1 paused)" in page
    run_page = client.get(f"/runs/{held.id}").text
    assert "Held back" in run_page and "the queue &#39;exports&#39; is paused" in run_page
    assert client.post("/queues/exports/resume", data={"csrf_token": token}).status_code == 200
    r = client.post("/jobs/echo/pause", data={"csrf_token": token}, follow_redirects=False)
    assert r.status_code == 303 and demo.paused_jobs() == ["echo"]
    client.post("/jobs/echo/resume", data={"csrf_token": token})
    finish(demo)
    assert held.state == "completed"


def test_queue_forms_need_the_csrf_token(demo: Conveyor, make_client: ClientFactory) -> None:
    client = make_client(demo)
    r = client.post("/queues/exports/pause", data={}, headers=SAME_ORIGIN)
    assert r.status_code == 403 and "CSRF" in r.text
    r = client.post("/jobs/echo/pause", data={"csrf_token": "0" * 64}, headers=SAME_ORIGIN)
    assert r.status_code == 403
    assert not [q for q in demo.queues() if q.paused] and demo.paused_jobs() == []


def test_api_pause_and_resume(demo: Conveyor, make_client: ClientFactory) -> None:
    client = make_client(demo)
    r = client.post("/api/queues/exports/pause")
    assert r.status_code == 200 and r.json() == {"ok": True, "queue": "exports", "paused": True}
    r = client.post("/api/jobs/echo/pause")
    assert r.json() == {"ok": True, "job": "echo", "paused": True}
    listing = client.get("/api/queues").json()
    assert listing["paused_jobs"] == ["echo"]
    assert {q["name"]: q["paused"] for q in listing["queues"]}["exports"] is True
    assert client.post("/api/jobs/echo/resume").json()["paused"] is False
    assert client.post("/api/queues/exports/resume").json()["paused"] is False
    r = client.post("/api/jobs/nope/pause")
    assert r.status_code == 404 and "no job 'nope'" in r.json()["error"]
    demo.pause(job="echo")
    demo.jobs.remove_definition("echo")  # paused by a service that defines it; not in this app
    assert client.post("/api/jobs/echo/resume").json() == {
        "ok": True, "job": "echo", "paused": False}
    r = client.post("/api/queues/a%00b/pause")
    assert r.status_code == 400


def test_openapi_lists_the_flow_endpoints(demo: Conveyor, make_client: ClientFactory) -> None:
    paths = make_client(demo).get("/api/openapi.json").json()["paths"]
    for path in ("/api/queues", "/api/queues/{name}/pause", "/api/queues/{name}/resume",
                 "/api/jobs/{name}/pause", "/api/jobs/{name}/resume"):
        assert path in paths


def test_jobs_named_in_a_script_without_latin_letters(make_client: ClientFactory) -> None:
    """``def отчёт(): ...`` is a Python function like any other: its id keeps its letters
    in URLs (percent-encoded by clients), and its page, run-now and pause work."""
    from urllib.parse import quote

    app = Conveyor("memory://")

    @app.job
    def отчёт(n: int = 1) -> int:
        return n

    @app.job("日本語 ジョブ")
    def japanese() -> None: ...

    assert app.jobs["отчёт"].slug == "отчёт" and app.jobs["日本語 ジョブ"].slug == "日本語-ジョブ"
    client = make_client(app)
    for slug in ("отчёт", "日本語-ジョブ"):
        assert client.get(f"/jobs/{quote(slug)}").status_code == 200
        assert client.post(f"/api/jobs/{quote(slug)}/run", json={}).status_code == 201
        assert client.post(f"/api/jobs/{quote(slug)}/pause").json()["paused"] is True
    assert app.paused_jobs() == sorted(["отчёт", "日本語 ジョブ"])
    assert 'href="/jobs/отчёт"' in client.get("/jobs").text
