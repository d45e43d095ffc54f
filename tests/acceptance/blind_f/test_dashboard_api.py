"""SPEC §7 dashboard and JSON API, second pass: the OpenAPI document names the endpoints
SPEC lists, overview/jobs/schedules/run detail carry what SPEC says they show (datetimes
in ISO 8601 UTC), run now takes payload, args or kwargs, the job pause endpoints take the
slug, a bearer client without Origin is served and cross-site requests are refused."""

from __future__ import annotations

import json
import re
from datetime import datetime, timedelta
from typing import Any

import pytest

from conveyor import Conveyor
from conveyor.testing import FakeClock, run_until_idle
from tests.acceptance.blind_f.support import recorder
from tests.acceptance.blind_surface.support import _client, _id_in, _items, _slug, u
from tests.conformance.helpers import drain

SPEC_ENDPOINTS = [("post", "/api/events"), ("post", "/api/queues/{}/pause"),
                  ("post", "/api/queues/{}/resume"), ("post", "/api/jobs/{}/pause"),
                  ("post", "/api/jobs/{}/resume")]


def _utc(text: str) -> datetime:
    moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    assert moment.utcoffset() == timedelta(), text
    return moment


def _shape(path: str) -> str:
    """The path with every {parameter} written as {} (names are the product's choice)."""
    return "/".join("{}" if part.startswith("{") else part for part in path.split("/"))


def test_the_openapi_document_lists_the_endpoints_spec_names(app: Conveyor) -> None:
    document = _client(app).get("/api/openapi.json").json()
    offered = {(method.lower(), _shape(path)) for path, item in document["paths"].items()
               for method in item}
    assert set(SPEC_ENDPOINTS) <= offered


def test_overview_counts_by_state_and_jobs_show_versions_triggers_next_times(
        app: Conveyor) -> None:
    recorder(app, "tägliche", version="2.1.0", trigger=app.cron("0 3 * * *", tz="Europe/Paris"))
    _, once = recorder(app, "einmal")
    with FakeClock(app, start=u(2030, 1, 4, 8, 7)) as clock:
        run_until_idle(app, clock=clock)
        once(1).run_now()
        once(2).run_in(1, "day")
        client = _client(app)
        overview = client.get("/api/overview").json()
        jobs = {j["id"]: j for j in _items(client.get("/api/jobs").json())}
        schedules = _items(client.get("/api/schedules").json())
    assert {k: v for k, v in overview["counts"].items() if v} == {"scheduled": 2, "queued": 1}
    assert "throughput" in overview
    daily = jobs["tägliche"]
    assert daily["version"] == "2.1.0"
    assert "0 3 * * *" in str(daily["trigger"])
    assert _utc(daily["trigger"]["next"][0]) == u(2030, 1, 5, 2)
    [schedule] = [s for s in schedules if s["job"] == "tägliche"]
    assert [_utc(t) for t in schedule["next"][:2]] == [u(2030, 1, 5, 2), u(2030, 1, 6, 2)]


def test_run_detail_shows_payload_tasks_logs_progress_and_output(app: Conveyor) -> None:
    @app.job("durable-ö")
    async def durable(payload: Any, io: Any, meta: Any) -> dict[str, Any]:
        value = await io.task("load-üser", lambda: {"name": "Zoë"})
        meta.log.info("loaded %s", value["name"])
        meta.progress(0.5, message="half wäy")
        return {"done": value["name"]}

    handle = durable({"user": 7}).run_now()
    drain(app)
    detail = _client(app).get(f"/api/runs/{handle.id}")
    assert detail.status_code == 200
    body = detail.json()
    text = json.dumps(body, ensure_ascii=False)
    assert body["payload"] == {"user": 7} and body["state"] == "completed"
    for shown in ("load-üser", "loaded Zoë", "half wäy", "Zoë"):
        assert shown in text, shown
    for key in ("created_at", "started_at", "finished_at", "run_at"):
        _utc(body[key])


@pytest.mark.parametrize(("body", "args", "kwargs"), [
    ({"payload": {"ü": [1]}}, [{"ü": [1]}], {}),
    ({"args": ["a", 2]}, ["a", 2], {}),
    ({"kwargs": {"x": None}}, [], {"x": None}),
])
def test_run_now_takes_payload_args_or_kwargs(app: Conveyor, body: dict[str, Any],
                                              args: list[Any], kwargs: dict[str, Any]) -> None:
    @app.job("échange")
    def exchange(*a: Any, **k: Any) -> list[Any]:
        return [list(a), k]

    client = _client(app)
    made = client.post(f"/api/jobs/{_slug(client, 'échange')}/run", json=body)
    assert made.status_code == 201, made.text
    handle_id = _id_in(made.json())
    drain(app)
    record = app.get_job(handle_id)
    assert record is not None and (record.args, record.kwargs) == (args, kwargs)
    assert record.result == [args, kwargs]


def test_pausing_a_job_through_the_api_uses_its_slug(app: Conveyor) -> None:
    recorder(app, "Rapport Ü/2")
    client = _client(app)
    slug = _slug(client, "Rapport Ü/2")
    assert client.post(f"/api/jobs/{slug}/pause").status_code < 300
    assert app.paused_jobs() == ["Rapport Ü/2"]
    assert client.post(f"/api/jobs/{slug}/resume").status_code < 300
    assert app.paused_jobs() == []
    page = client.get("/queues")
    assert page.status_code == 200 and "pause" in page.text.lower()


def test_a_bearer_client_without_origin_is_served_and_cross_site_is_refused(
        app: Conveyor) -> None:
    client = _client(app, token="t0ken-ü".encode().hex())
    auth = {"Authorization": "Bearer " + "t0ken-ü".encode().hex()}
    event = {"name": "bestellung", "payload": {}}
    assert client.post("/api/queues/mails/pause", headers=auth).status_code < 300
    assert client.post("/api/events", json=event, headers=auth).status_code < 300
    for hostile in ({"Sec-Fetch-Site": "cross-site"}, {"Origin": "https://evil.example"},
                    {"Origin": "null"}):
        refused = client.post("/api/queues/mails/resume", headers={**auth, **hostile})
        assert refused.status_code == 403, hostile
        assert "error" in refused.json()
    assert {q.name: q.paused for q in app.queues()}["mails"] is True


def test_jobs_show_the_next_times_of_the_stored_schedule(app: Conveyor) -> None:
    recorder(app, "neunzig", trigger=app.every("90 minutes"))  # read now, on Python's clock
    with FakeClock(app, start=u(2030, 1, 4, 8, 7)) as clock:
        run_until_idle(app, clock=clock)  # stored (created) at 08:07 on the app's clock
        client = _client(app)
        job = next(j for j in _items(client.get("/api/jobs").json()) if j["id"] == "neunzig")
        shown = client.get(f"/api/jobs/{job['slug']}").json()
    for info in (job, shown):
        assert [_utc(t) for t in info["trigger"]["next"][:2]] == [u(2030, 1, 4, 9, 37),
                                                                  u(2030, 1, 4, 11, 7)]


def _forms(client: Any, page: str) -> tuple[str, list[str]]:
    """The CSRF token and the pause/resume form actions of a dashboard page."""
    text = client.get(page).text
    token = re.search(r'name="csrf_token" value="([^"]+)"', text)
    assert token is not None
    return token.group(1), re.findall(r'action="([^"]*/(?:pause|resume))"', text)


def test_queues_and_schedules_named_with_a_slash_can_be_paused(app: Conveyor) -> None:
    app.queue("exports/eu", concurrency=1)
    recorder(app, "berichte/täglich", trigger=app.every("hour"))
    run_until_idle(app)
    client = _client(app)
    assert client.post("/api/queues/exports%2Feu/pause").status_code == 200
    assert client.post("/api/schedules/berichte%2Ft%C3%A4glich/pause").status_code == 200
    assert {q.name: q.paused for q in app.queues()}["exports/eu"] is True
    assert [s.paused for s in app.schedules()] == [True]
    for page in ("/queues", "/schedules"):
        token, actions = _forms(client, page)
        assert actions, page
        for action in actions:
            done = client.post(action, data={"csrf_token": token}, follow_redirects=False)
            assert done.status_code == 303, (action, done.text)
    assert {q.name: q.paused for q in app.queues()}["exports/eu"] is False
    assert [s.paused for s in app.schedules()] == [False]
