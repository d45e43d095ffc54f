"""SPEC §7, §8 and §9: the dashboard's JSON API (paging, filters, steering, pauses,
events) and its answers to hostile requests: 4xx with ``{"error": ...}``, never 500."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from conveyor import Conveyor, Fail, Retry
from conveyor.testing import run_until_idle
from tests.acceptance.blind_m.support import items_of
from tests.acceptance.blind_p.support import JSON, assert_json_error, client
from tests.acceptance.support import record_of


def _echo(app: Conveyor) -> Any:
    @app.job
    def echo(payload=None, *args, **kwargs):
        return {"payload": payload, "args": list(args), "kwargs": kwargs}

    return echo


def test_runs_are_paged_newest_first_without_overlap(app: Conveyor) -> None:
    echo = _echo(app)
    ids = [echo(n).run_now().id for n in range(7)]
    web = client(app)
    seen: list[int] = []
    query = "/api/runs?limit=3"
    for _ in range(5):
        page = [run["id"] for run in items_of(web.get(query).json())]
        assert len(page) <= 3
        if not page:
            break
        seen += page
        query = f"/api/runs?limit=3&before={page[-1]}"
    assert seen == sorted(ids, reverse=True)


def test_runs_filter_by_state_job_owner_and_text_together(app: Conveyor) -> None:
    echo = _echo(app)

    @app.job(retry=Retry(retries=0))
    def boom(payload=None):
        raise Fail(f"broke on {payload}")

    boom("zebra").run_now(owner=7)
    wanted = boom("yak").run_now(owner=7).id
    boom("yak").run_now(owner=8)
    echo("yak").run_now(owner=7)
    run_until_idle(app)
    web = client(app)
    found = items_of(web.get("/api/runs", params={
        "state": "failed", "job": "boom", "owner": "7", "q": "yak"}).json())
    assert [run["id"] for run in found] == [wanted]


def test_api_run_now_respects_the_apps_payload_limits(open_app: Any) -> None:
    app = open_app(max_payload=1000, max_depth=4)
    _echo(app)
    web = client(app)
    assert_json_error(web.post("/api/jobs/echo/run", json={"payload": "x" * 2000}))
    assert_json_error(web.post("/api/jobs/echo/run", json={"payload": [[[[[1]]]]]}))
    assert web.post("/api/jobs/echo/run", json={"payload": [[[1]]]}).status_code < 300
    assert app.count() == 1


HOSTILE_BODIES = [
    b'{"payload": "a\\u0000b"}',
    b'{"payload": "\\ud800"}',
    b'{"payload": {"\\udfff": 1}}',
    b'{"payload": NaN}',
    b'{"payload": [Infinity]}',
    b'{"payload": -Infinity}',
    b'{"payload": ' + b"[" * 300 + b"]" * 300 + b"}",
    b'{"payload": "\xff\xfe"}',
    b'{"payload": 1',
    b"[1, 2]",
    b'"just text"',
    b'{"kwargs": [1]}',
    b'{"args": {"a": 1}}',
    b'{"payload": 1, "args": [2]}',
]


def test_hostile_run_bodies_are_4xx_json_and_store_nothing(app: Conveyor) -> None:
    _echo(app)
    web = client(app)
    for body in HOSTILE_BODIES:
        assert_json_error(web.post("/api/jobs/echo/run", content=body, headers=JSON))
    assert app.count() == 0


def test_hostile_event_bodies_are_4xx_json_and_start_nothing(app: Conveyor) -> None:
    @app.job(trigger=app.event("order.paid"))
    def on_paid(payload=None):
        return payload

    web = client(app)
    for body in [b'{"name": "order.paid", "payload": {"a": NaN}}',
                 b'{"name": "order.paid", "payload": {"a": "\\u0000"}}',
                 b'{"name": "order.paid", "payload": {"a": "\\ud83d"}}',
                 b'{"name": 5, "payload": {}}',
                 b'{"payload": {}}',
                 b'{"name": "order.paid", "payload": {}, "id": 12}']:
        assert_json_error(web.post("/api/events", content=body, headers=JSON))
    run_until_idle(app)
    assert app.count() == 0


def _chunks(total: int) -> Iterator[bytes]:
    """A body sent in chunks without a Content-Length (the cap must hold while streaming)."""
    yield b'{"payload": "'
    for _ in range(total // 65536):
        yield b"x" * 65536
    yield b'"}'


def test_a_streamed_body_over_the_cap_is_413(app: Conveyor) -> None:
    _echo(app)
    web = client(app)
    for path in ("/api/jobs/echo/run", "/api/events"):
        response = web.post(path, content=_chunks(2 * 1024 * 1024), headers=JSON)
        assert_json_error(response, 413)
    assert app.count() == 0


def test_cancel_retry_and_their_refusals_through_the_api(app: Conveyor) -> None:
    tries: list[int] = []

    @app.job(retry=Retry(retries=0))
    def once_broken(meta):
        tries.append(meta.attempt)
        if len(tries) == 1:
            raise Fail("first time")
        return "fixed"

    broken = once_broken().run_now().id
    run_until_idle(app)
    later = once_broken().run_in(1, "hour").id
    web = client(app)
    assert_json_error(web.post(f"/api/runs/{later}/retry"))  # not finished: nothing to retry
    assert web.post(f"/api/runs/{later}/cancel").status_code < 300
    assert record_of(app, later).state == "cancelled"
    assert_json_error(web.post(f"/api/runs/{later}/cancel"))
    assert web.post(f"/api/runs/{broken}/retry").status_code < 300
    run_until_idle(app)
    assert record_of(app, broken).state == "completed"
    assert record_of(app, broken).result == "fixed"
    assert_json_error(web.post("/api/runs/987654/cancel"), 404)
    assert_json_error(web.post("/api/runs/987654/retry"), 404)


def test_pausing_a_queue_and_a_job_through_the_api_holds_their_runs(app: Conveyor) -> None:
    @app.job(queue="reports")
    def report():
        return "r"

    @app.job
    def mail():
        return "m"

    web = client(app)
    assert web.post("/api/queues/reports/pause").status_code < 300
    assert web.post("/api/jobs/mail/pause").status_code < 300
    held = [report().run_now().id, mail().run_now().id]
    run_until_idle(app)
    assert {record_of(app, i).state for i in held} == {"queued"}
    assert [q.paused for q in app.queues() if q.name == "reports"] == [True]
    assert app.paused_jobs() == ["mail"]
    assert web.post("/api/queues/reports/resume").status_code < 300
    assert web.post("/api/jobs/mail/resume").status_code < 300
    run_until_idle(app)
    assert {record_of(app, i).state for i in held} == {"completed"}
    assert_json_error(web.post("/api/jobs/no-such-job/pause"), 404)


def test_events_sent_through_the_api_are_listed_and_start_runs_once(app: Conveyor) -> None:
    @app.job(trigger=app.event("user.created", filter={"plan": ["pro"]}))
    def welcome(payload):
        return payload["plan"]

    web = client(app)
    for _ in range(2):
        assert web.post("/api/events", json={"name": "user.created",
                                             "payload": {"plan": "pro"}, "id": "evt-1"}
                        ).status_code < 300
    assert web.post("/api/events", json={"name": "user.created",
                                         "payload": {"plan": "free"}}).status_code < 300
    run_until_idle(app)
    assert [r.result for r in app.jobs_list(job="welcome")] == ["pro"]
    listed = items_of(web.get("/api/events").json())
    assert {e["name"] for e in listed} == {"user.created"} and len(listed) == 2


def test_api_event_payloads_follow_the_apps_limits(open_app: Any) -> None:
    app = open_app(max_payload=500)
    web = client(app)
    assert_json_error(web.post("/api/events", json={"name": "big", "payload": {"b": "x" * 900}}))


def test_overview_counts_match_the_store(app: Conveyor) -> None:
    echo = _echo(app)
    echo(1).run_now()
    echo(2).run_in(1, "hour")
    run_until_idle(app)
    body = client(app).get("/api/overview").json()
    counts = body.get("counts", body)
    assert counts["completed"] == 1 and counts["scheduled"] == 1
    assert "throughput" in str(body)


def test_metrics_count_attempts_by_job_and_jobs_by_state_and_queue(app: Conveyor) -> None:
    @app.job(queue="mq", retry=Retry(retries=1))
    def wobbly(meta):
        if meta.attempt == 1:
            raise RuntimeError("wobble")
        return 1

    wobbly().run_now()
    run_until_idle(app)
    response = client(app).get("/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    lines = [line for line in response.text.splitlines() if 'job="wobbly"' in line]
    for word in ("started", "completed", "retried"):
        assert any(word in line for line in lines), word
    assert any("_bucket" in line for line in lines)
    assert any('queue="mq"' in line and 'state="completed"' in line
               for line in response.text.splitlines())
    assert "worker" in response.text
