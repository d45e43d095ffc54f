"""The JSON API: every action, on every store, with JSON errors that say what is wrong."""

from __future__ import annotations

import re

import pytest

from conveyor import Conveyor

from .conftest import ClientFactory
from .helpers import finish


def test_run_now_stores_the_payload_and_the_worker_completes_it(
    demo: Conveyor, make_client: ClientFactory
) -> None:
    client = make_client(demo)
    r = client.post("/api/jobs/echo/run", json={"payload": {"url": "https://x"}})
    assert r.status_code == 201
    run_id = r.json()["id"]
    assert demo.get_job(run_id).args == [{"url": "https://x"}]  # stored before it returned
    finish(demo)
    detail = client.get(f"/api/runs/{run_id}").json()
    assert detail["state"] == "completed"
    assert detail["result"] == detail["output"] == {"echo": {"url": "https://x"}}
    assert detail["version"] == "1.2.0"


def test_run_now_takes_args_and_kwargs_like_the_cli(
    demo: Conveyor, make_client: ClientFactory
) -> None:
    client = make_client(demo)
    r = client.post("/api/jobs/echo/run", json={"args": [], "kwargs": {"payload": 3}})
    record = demo.get_job(r.json()["id"])
    assert (record.args, record.kwargs) == ([], {"payload": 3})


def test_run_now_rejects_bad_bodies_with_a_message(
    demo: Conveyor, make_client: ClientFactory
) -> None:
    client = make_client(demo)
    cases = [
        ({"content": b"{nope", "headers": {"content-type": "application/json"}}, 400, "JSON"),
        ({"json": [1, 2]}, 400, "JSON object"),
        ({"json": {"args": {"a": 1}}}, 400, "list"),
        ({"json": {"kwargs": [1]}}, 400, "object"),
        ({"json": {"payload": 1, "args": [1]}}, 400, "not both"),
        ({"json": {"paylod": 1}}, 400, "accepted: payload, args, kwargs"),
        ({"content": b"payload=1", "headers": {"content-type": "text/plain"}}, 415, "JSON"),
    ]
    for kwargs, status, words in cases:
        r = client.post("/api/jobs/echo/run", **kwargs)
        assert r.status_code == status, (kwargs, r.text)
        assert words in r.json()["error"]
    assert demo.count() == 0


def test_unknown_job_and_run_are_404_json(demo: Conveyor, make_client: ClientFactory) -> None:
    client = make_client(demo)
    assert client.post("/api/jobs/nope/run", json={}).json() == {
        "error": "no job 'nope' is defined", "status": 404}
    assert client.get("/api/runs/12345").status_code == 404
    assert client.get("/api/runs/abc").json()["status"] == 404
    assert client.get("/api/no/such/path").json()["status"] == 404


def test_runs_filter_by_state_job_and_text(demo: Conveyor, make_client: ClientFactory) -> None:
    demo.jobs["echo"]({"city": "Lisbon"}).run_now()
    demo.jobs["echo"]({"city": "Oslo"}).run_now()
    demo.jobs["explode"]({"city": "Oslo"}).run_now()
    finish(demo)
    client = make_client(demo)

    def ids(**params: str) -> list[str]:
        return [r["job"] for r in client.get("/api/runs", params=params).json()["runs"]]

    assert ids(state="failed") == ["explode"]
    assert ids(job="echo") == ["echo", "echo"]
    assert ids(q="Oslo") == ["explode", "echo"]
    assert ids(q="cannot handle") == ["explode"]  # text in the error too
    assert client.get("/api/runs", params={"state": "done"}).json()["error"].startswith(
        "unknown state 'done'; accepted: scheduled")
    demo.jobs["echo"]("later").run_in(1, "hour")
    assert ids(state="failed,scheduled") == ["echo", "explode"]  # several states
    several = client.get("/api/runs", params=[("state", "failed"), ("state", "scheduled")])
    assert [r["job"] for r in several.json()["runs"]] == ["echo", "explode"]
    assert client.get("/api/runs", params={"state": "failed,done"}).status_code == 400


def test_runs_filter_by_text_and_by_the_jobs_slug(
    demo: Conveyor, make_client: ClientFactory
) -> None:
    @demo.job("Send Welcome")
    def send_welcome(payload: object) -> None:
        pass

    send_welcome({"city": "Oslo"}).run_now()
    demo.jobs["echo"]({"city": "Lisbon"}).run_now()
    client = make_client(demo)

    def jobs(**params: str) -> list[str]:
        r = client.get("/api/runs", params=params)
        assert r.status_code == 200, r.text
        return [run["job"] for run in r.json()["runs"]]

    assert jobs(text="Oslo") == ["Send Welcome"]  # `text` spells `q` too
    assert jobs(job="send-welcome") == jobs(job="Send Welcome") == ["Send Welcome"]
    assert jobs(job="no-such-job") == []


def test_runs_filter_by_owner(demo: Conveyor, make_client: ClientFactory) -> None:
    demo.jobs["echo"](1).run_now(owner=7)
    demo.jobs["echo"](2).run_now()
    runs = make_client(demo).get("/api/runs", params={"owner": "7"}).json()["runs"]
    assert [(r["payload"], r["owner"]) for r in runs] == [(1, 7)]  # an int owner stays one


@pytest.mark.parametrize("param", ["owner", "job", "q", "text"])
def test_runs_filter_with_a_nul_character_is_refused_with_a_message(
    demo: Conveyor, make_client: ClientFactory, param: str
) -> None:
    r = make_client(demo).get("/api/runs", params={param: "a\x00b"})
    assert r.status_code == 400
    assert r.json()["error"] == f"invalid {param} 'a\\x00b'; accepted: text without NUL characters"


def test_runs_are_paged_by_id_newest_first(demo: Conveyor, make_client: ClientFactory) -> None:
    demo.enqueue_many([demo.jobs["echo"](i) for i in range(7)])
    client = make_client(demo)
    seen, before = [], None
    while True:
        params = {"limit": "3", **({"before": str(before)} if before else {})}
        page = client.get("/api/runs", params=params).json()
        seen += [r["payload"] for r in page["runs"]]
        before = page["next_before"]
        if before is None:
            break
    assert seen == [6, 5, 4, 3, 2, 1, 0]


def test_run_detail_has_attempts_with_tracebacks(
    demo: Conveyor, make_client: ClientFactory
) -> None:
    run_id = demo.jobs["explode"]("x").run_now().id
    finish(demo)
    detail = make_client(demo).get(f"/api/runs/{run_id}").json()
    assert detail["state"] == "failed"
    (attempt,) = detail["history"]
    assert attempt["error"]["type"] == "ValueError"
    assert "Traceback" in attempt["error"]["traceback"]
    assert detail["can_retry"] and not detail["can_cancel"]


def test_cancel_retry_and_rerun(demo: Conveyor, make_client: ClientFactory) -> None:
    client = make_client(demo)
    later = demo.jobs["echo"]("later").run_in(1, "hour").id
    assert client.post(f"/api/runs/{later}/cancel").json() == {"ok": True, "id": later}
    assert demo.get_job(later).state == "cancelled"
    r = client.post(f"/api/runs/{later}/cancel")
    assert r.status_code == 409 and "already finished" in r.json()["error"]

    assert client.post(f"/api/runs/{later}/retry").status_code == 200
    assert demo.get_job(later).state == "queued"
    r = client.post(f"/api/runs/{later}/retry")
    assert r.status_code == 409 and "has not finished" in r.json()["error"]

    r = client.post(f"/api/runs/{later}/rerun")
    assert r.status_code == 201
    new = r.json()["id"]
    assert new != later and demo.get_job(new).args == ["later"]


def test_retry_of_a_run_whose_dependency_was_cancelled_is_refused_naming_it(
    demo: Conveyor, make_client: ClientFactory
) -> None:
    first = demo.jobs["echo"]("first").run_in(1, "hour").id
    then = demo.jobs["echo"]("then").run_now(depends_on=[first]).id
    demo.cancel(first)
    r = make_client(demo).post(f"/api/runs/{then}/retry")
    assert r.status_code == 409 and f"retry run {first} first" in r.json()["error"]


def test_overview_counts_throughput_and_workers(
    demo: Conveyor, make_client: ClientFactory
) -> None:
    demo.jobs["echo"](1).run_now()
    demo.jobs["explode"](2).run_now()
    demo.jobs["echo"](3).run_in(1, "day")
    finish(demo)
    data = make_client(demo).get("/api/overview").json()
    assert data["counts"]["completed"] == 1
    assert data["counts"]["failed"] == 1
    assert data["counts"]["scheduled"] == 1
    assert sum(b["completed"] for b in data["throughput"]) == 1
    assert sum(b["failed"] for b in data["throughput"]) == 1
    assert [r["job"] for r in data["failing"]] == ["explode"]
    assert isinstance(data["workers"], list)


def test_jobs_lists_definitions(demo: Conveyor, make_client: ClientFactory) -> None:
    client = make_client(demo)
    jobs = {j["id"]: j for j in client.get("/api/jobs").json()["jobs"]}
    assert jobs["echo"]["name"] == "Echo" and jobs["echo"]["version"] == "1.2.0"
    assert jobs["echo"]["queue"] == "default"
    assert client.get("/api/jobs/echo").json()["slug"] == "echo"


def test_jobs_describe_their_triggers(demo: Conveyor, make_client: ClientFactory) -> None:
    @demo.job(trigger=demo.event("user.created", filter={"plan": ["pro"]}))
    def welcome(payload: object) -> None: ...

    @demo.job(trigger=demo.cron("0 3 * * *"))
    def nightly() -> None: ...

    jobs = {j["id"]: j for j in make_client(demo).get("/api/jobs").json()["jobs"]}
    event = jobs["welcome"]["trigger"]
    assert (event["kind"], event["name"], event["filter"]) == (
        "event", "user.created", {"plan": ["pro"]})
    assert event["label"] == 'event user.created where {"plan": ["pro"]}'
    cron = jobs["nightly"]["trigger"]
    assert cron["kind"] == "cron" and cron["text"] == "0 3 * * *"
    assert len(cron["next"]) == 3 and all(t.endswith("+00:00") for t in cron["next"])


def test_openapi_document_describes_every_api_route(
    sqlite_demo: Conveyor, make_client: ClientFactory
) -> None:
    from starlette.routing import Route

    client = make_client(sqlite_demo)
    doc = client.get("/api/openapi.json").json()
    assert doc["openapi"].startswith("3.")
    routes = {  # without convertors: /api/queues/{name:path}/pause is OpenAPI's {name}
        re.sub(r":\w+}", "}", r.path) for r in client.app.routes  # type: ignore[attr-defined]
        if isinstance(r, Route) and r.path.startswith("/api/") and r.path != "/api/openapi.json"
    }
    assert routes == set(doc["paths"])


def test_text_search_reads_a_bounded_window_per_page_and_continues_below_it(
    demo: Conveyor, make_client: ClientFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    from conveyor.dashboard import data

    monkeypatch.setattr(data, "TEXT_WINDOW", 4)
    handles = demo.enqueue_many(
        [demo.jobs["echo"]("needle" if i in (1, 9, 10) else "hay") for i in range(12)]
    )
    client = make_client(demo)
    found, before, pages = [], None, 0
    while True:
        params = {"q": "needle", **({"before": str(before)} if before else {})}
        page = client.get("/api/runs", params=params).json()
        found += [r["id"] for r in page["runs"]]
        pages += 1
        before = page["next_before"]
        if before is None:
            break
    ids = [h.id for h in handles]
    assert found == [ids[10], ids[9], ids[1]]
    assert pages == 3  # 12 runs read 4 at a time
    assert "searched down to run #" in client.get("/runs", params={"q": "needle"}).text
