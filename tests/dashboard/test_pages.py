"""The HTML pages: every page renders, forms validate, user data is escaped or hidden."""

from __future__ import annotations

import re

from starlette.testclient import TestClient

from conveyor import Conveyor

from .conftest import ClientFactory
from .helpers import finish


def csrf_of(client: TestClient, path: str = "/jobs/echo") -> str:
    match = re.search(r'name="csrf_token" value="([0-9a-f]+)"', client.get(path).text)
    assert match, "the page carries no CSRF token"
    return match.group(1)


def test_every_page_renders(demo: Conveyor, make_client: ClientFactory) -> None:
    run_id = demo.jobs["explode"]({"n": 1}).run_now().id
    finish(demo)
    client = make_client(demo)
    for path, words in [
        ("/", "Throughput, last hour"), ("/jobs", "Echo"), ("/jobs/echo", "Run now"),
        ("/runs", f"#{run_id}"), (f"/runs/{run_id}", "Traceback"),
        ("/schedules", "Schedules"), ("/events", "Events"),
    ]:
        r = client.get(path)
        assert r.status_code == 200, path
        assert words in r.text, path
        assert "/static/htmx.min.js" in r.text


def test_static_htmx_is_vendored(sqlite_demo: Conveyor, make_client: ClientFactory) -> None:
    r = make_client(sqlite_demo).get("/static/htmx.min.js")
    assert r.status_code == 200 and "htmx" in r.text[:200]


def test_live_parts_are_served_alone_to_htmx(
    sqlite_demo: Conveyor, make_client: ClientFactory
) -> None:
    client = make_client(sqlite_demo)
    r = client.get("/runs", headers={"HX-Request": "true", "HX-Target": "live"})
    assert r.text.lstrip().startswith('<div id="live"')
    assert "<html" not in r.text


def test_run_now_form_redirects_to_the_new_run(
    sqlite_demo: Conveyor, make_client: ClientFactory
) -> None:
    client = make_client(sqlite_demo)
    r = client.post("/jobs/echo/run", data={"payload": '{"a": 1}', "csrf_token": csrf_of(client)},
                    follow_redirects=False)
    assert r.status_code == 303
    run_id = int(r.headers["location"].rsplit("/", 1)[1])
    assert sqlite_demo.get_job(run_id).args == [{"a": 1}]


def test_run_now_form_shows_json_errors_in_the_page(
    sqlite_demo: Conveyor, make_client: ClientFactory
) -> None:
    client = make_client(sqlite_demo)
    token = csrf_of(client)
    r = client.post("/jobs/echo/run", data={"payload": "{bad", "csrf_token": token})
    assert r.status_code == 400
    assert "payload is not valid JSON" in r.text and 'role="alert"' in r.text
    assert "{bad" in r.text  # the typed text is kept for correcting
    r = client.post("/jobs/echo/run", data={"args": '{"a": 1}', "csrf_token": token})
    assert "args must be a JSON list" in r.text
    assert sqlite_demo.count() == 0


def test_payload_with_script_renders_as_text(
    sqlite_demo: Conveyor, make_client: ClientFactory
) -> None:
    evil = '<script>alert("x")</script><img src=x onerror=alert(1)>'
    run_id = sqlite_demo.jobs["explode"]({"note": evil}).run_now().id
    finish(sqlite_demo)
    client = make_client(sqlite_demo)
    for path in ("/", "/runs", f"/runs/{run_id}", "/jobs/explode"):
        html = client.get(path).text
        assert "<script>alert" not in html and "<img src=x" not in html, path
        assert "&lt;script&gt;" in html, path


def test_secret_looking_fields_are_masked(
    sqlite_demo: Conveyor, make_client: ClientFactory
) -> None:
    payload = {"headers": {"Authorization": "Bearer s3cr3t-value", "X-Trace": "ok"},
               "api_key": "s3cr3t-value", "fetch": {"value": "s3cr3t-value", "secret": True}}
    run_id = sqlite_demo.jobs["echo"](payload).run_now().id
    finish(sqlite_demo)
    client = make_client(sqlite_demo)
    for path in (f"/runs/{run_id}", "/runs", f"/api/runs/{run_id}", "/api/runs"):
        text = client.get(path).text
        assert "s3cr3t-value" not in text, path
    assert "X-Trace" in client.get(f"/runs/{run_id}").text


def test_run_actions_from_the_page(sqlite_demo: Conveyor, make_client: ClientFactory) -> None:
    client = make_client(sqlite_demo)
    token = csrf_of(client)
    run_id = sqlite_demo.jobs["echo"]("x").run_in(1, "hour").id
    r = client.post(f"/runs/{run_id}/cancel", data={"csrf_token": token})
    assert r.status_code == 200 and sqlite_demo.get_job(run_id).state == "cancelled"
    client.post(f"/runs/{run_id}/retry", data={"csrf_token": token})
    assert sqlite_demo.get_job(run_id).state == "queued"
    r = client.post(f"/runs/{run_id}/retry", data={"csrf_token": token})
    assert r.status_code == 409 and "has not finished" in r.text


def test_bad_filters_show_an_error_not_a_crash(
    sqlite_demo: Conveyor, make_client: ClientFactory
) -> None:
    r = make_client(sqlite_demo).get("/runs", params={"state": "bogus", "before": "x"})
    assert r.status_code == 400 and "unknown state" in r.text  # the page, with the error
