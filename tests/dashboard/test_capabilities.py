"""Events, event-started runs and durable steps in the dashboard and API."""

from __future__ import annotations

from typing import Any

from conveyor import Conveyor

from .conftest import ClientFactory
from .helpers import finish
from .test_pages import csrf_of


def define_welcome(app: Conveyor) -> None:
    @app.job("send-welcome", name="Send welcome email", version="1.2.0",
             trigger=app.event("user.created", filter={"plan": ["pro"]}))
    async def send_welcome(payload: dict[str, Any], io: Any, ctx: Any) -> dict[str, Any]:
        user = await io.task("load-user", lambda uid: {"id": uid, "email": "a@b.c"},
                             payload["id"])
        await io.logger.info("sending", user=user["email"])
        return {"sent": True}


def test_api_sends_an_event_that_starts_a_run_shown_with_its_steps(
    demo: Conveyor, make_client: ClientFactory
) -> None:
    define_welcome(demo)
    client = make_client(demo)
    r = client.post("/api/events", json={"name": "user.created",
                                         "payload": {"id": 7, "plan": "pro"}, "id": "evt-1"})
    assert r.status_code == 202
    assert "event" in r.json(), r.text
    event = r.json()["event"]
    assert event["id"] == "evt-1" and len(event["runs"]) == 1
    finish(demo)
    run = client.get(f"/api/runs/{event['runs'][0]}").json()
    assert run["state"] == "completed" and run["result"] == {"sent": True}
    assert run["event"]["name"] == "user.created"
    assert run["steps"][0]["key"] == "load-user"
    assert run["steps"][0]["output"] == {"id": 7, "email": "a@b.c"}

    page = client.get(f"/runs/{run['id']}").text
    assert 'class="timeline"' in page and "load-user" in page
    assert "user.created" in page  # the event that started it
    events = client.get("/api/events").json()["events"]
    assert [e["id"] for e in events] == ["evt-1"]
    assert "evt-1" in client.get("/events").text


def test_a_run_whose_event_was_purged_shows_its_event_id_as_purged(
    demo: Conveyor, make_client: ClientFactory
) -> None:
    define_welcome(demo)
    [run_id] = demo.send_event("user.created", {"id": 7, "plan": "pro"}, id="evt-old").runs
    finish(demo)
    assert demo.store.purge_events(demo.store.now() + 1) == 1
    client = make_client(demo)
    assert client.get(f"/api/runs/{run_id}").json()["event"] == {"id": "evt-old", "purged": True}
    page = client.get(f"/runs/{run_id}")
    assert page.status_code == 200 and "evt-old" in page.text and "(purged)" in page.text


def test_sending_the_same_event_id_twice_starts_its_runs_once(
    demo: Conveyor, make_client: ClientFactory
) -> None:
    define_welcome(demo)
    client = make_client(demo)
    body = {"name": "user.created", "payload": {"id": 1, "plan": "pro"}, "id": "same"}
    first = client.post("/api/events", json=body).json()["event"]
    second = client.post("/api/events", json=body).json()["event"]
    assert first["runs"] == second["runs"] and demo.count() == 1


def test_bad_events_get_a_message(sqlite_demo: Conveyor, make_client: ClientFactory) -> None:
    client = make_client(sqlite_demo)
    for body, words in [({"payload": {}}, "name"), ({"name": ""}, "name"),
                        ({"name": "x", "id": 5}, "id must be a string"),
                        ({"name": "x", "extra": 1}, "accepted: name, payload, id")]:
        r = client.post("/api/events", json=body)
        assert r.status_code == 400 and words in r.json()["error"], body


def test_an_event_name_is_sanitised_as_send_event_does_and_the_payload_still_refused(
    demo: Conveyor, make_client: ClientFactory
) -> None:
    """SPEC §8: an event name is text stored on the user's behalf: NUL and lone surrogates
    become U+FFFD and an over-long one is cut, as ``app.send_event`` does, never a 400;
    a payload holding NUL is still refused (the payload rule)."""
    client = make_client(demo)
    long = "n" * 5000
    for i, (raw, name) in enumerate([(b"user\\u0000created", "user\x00created"),
                                     (b"a\\ud800b", "a\ud800b"), (long.encode(), long)]):
        r = client.post("/api/events", content=b'{"name": "' + raw + b'", "id": "api-%d"}' % i,
                        headers={"content-type": "application/json"})
        assert r.status_code == 202, r.text
        expected = demo.send_event(name, id=f"direct-{i}").name
        assert "\x00" not in expected and r.json()["event"]["name"] == expected
        stored = demo.get_event(f"api-{i}")
        assert stored is not None and stored.name == expected
    assert demo.get_event("api-0").name == "user\ufffdcreated"  # type: ignore[union-attr]
    assert demo.get_event("api-1").name == "a\ufffdb"  # type: ignore[union-attr]
    assert demo.get_event("api-2").name.endswith("bytes cut]")  # type: ignore[union-attr]
    r = client.post("/api/events", json={"name": "user\x00created", "id": "bad",
                                         "payload": {"note": "a\x00b"}})
    assert r.status_code == 400 and 'body["payload"]["note"]' in r.json()["error"], r.text
    assert "NUL" in r.json()["error"] and demo.get_event("bad") is None
    csrf = csrf_of(client, "/events")  # the events page's form: the same path
    r = client.post("/events", data={"name": "form\x00sent", "id": "form", "csrf_token": csrf})
    assert r.status_code == 200 and demo.get_event("form").name == "form\ufffdsent"  # type: ignore[union-attr]


def test_the_events_page_form_sends_an_event(
    sqlite_demo: Conveyor, make_client: ClientFactory
) -> None:
    define_welcome(sqlite_demo)
    client = make_client(sqlite_demo)
    csrf = csrf_of(client, "/events")
    r = client.post("/events", data={"name": "user.created", "payload": '{"id": 3, "plan": "pro"}',
                                     "csrf_token": csrf})
    assert r.status_code == 200 and "Sent user.created" in r.text
    assert sqlite_demo.count(job="send-welcome") == 1
    r = client.post("/events", data={"name": "user.created", "payload": "{nope",
                                     "csrf_token": csrf})
    assert r.status_code == 400 and "payload is not valid JSON" in r.text


def test_schedules_show_next_fire_times_and_pause_and_resume(
    demo: Conveyor, make_client: ClientFactory
) -> None:
    @demo.job("nightly-report", trigger=demo.cron("0 3 * * *"))
    def nightly_report() -> str:
        return "done"

    client = make_client(demo)
    (schedule,) = client.get("/api/schedules").json()["schedules"]
    assert schedule["job"] == "nightly-report" and not schedule["paused"]
    assert schedule["next"] and schedule["explain"]
    jobs = {j["id"]: j for j in client.get("/api/jobs").json()["jobs"]}
    assert jobs["nightly-report"]["trigger"]["next"]
    page = client.get("/schedules").text
    assert schedule["id"] in page and "Pause" in page

    sid = schedule["id"]
    assert client.post(f"/api/schedules/{sid}/pause").json()["paused"] is True
    assert client.get("/api/schedules").json()["schedules"][0]["paused"] is True
    assert "Resume" in client.get("/schedules").text
    client.post(f"/schedules/{sid}/resume")
    assert client.get("/api/schedules").json()["schedules"][0]["paused"] is False
    r = client.post("/api/schedules/no-such/pause")
    assert r.status_code == 404 and "no-such" in r.json()["error"]
