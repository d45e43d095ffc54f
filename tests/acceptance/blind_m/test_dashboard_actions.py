"""SPEC §7: the dashboard API's actions (run now with payload / args / kwargs, retry,
cancel), found through its OpenAPI document, with odd input answered 4xx JSON."""

from __future__ import annotations

from typing import Any

from starlette.testclient import TestClient

from conveyor import Conveyor, Fail
from conveyor.testing import run_until_idle
from tests.acceptance.support import record_of


def _action(paths: dict[str, Any], *words: str) -> str:
    return next(p for p in paths if all(w in p for w in words) and "post" in paths[p])


def _fill(path: str, value: object) -> str:
    """``path`` with its one ``{parameter}`` replaced by ``value``."""
    return path[:path.index("{")] + str(value) + path[path.index("}") + 1:]


def test_run_now_retry_and_cancel_through_the_api(app: Conveyor) -> None:
    @app.job("Echo Things")
    def echo(payload=None, *args, **kwargs):
        return {"payload": payload, "args": list(args), "kwargs": kwargs}

    @app.job
    def fragile(payload=None):
        raise Fail("fragile")

    client = TestClient(app.asgi())
    paths = client.get("/api/openapi.json").json()["paths"]
    run_path = _action(paths, "/api/jobs/", "/run")
    retry_path = _action(paths, "/api/runs/", "/retry")
    cancel_path = _action(paths, "/api/runs/", "/cancel")
    jobs = client.get("/api/jobs").json()["jobs"]
    slug = next(j["slug"] for j in jobs if j["id"] == "Echo Things")

    def start(job: str, body: Any) -> Any:
        return client.post(_fill(run_path, job), json=body)

    ids = [start(slug, body).json()["id"] for body in (
        {"payload": {"url": "x"}}, {"args": [1, 2]}, {"kwargs": {"k": "v"}},
        {"args": [1], "kwargs": {"k": 2}})]
    for body in ({"args": {"a": 1}}, {"kwargs": [1]}, {"payload": "\u0000"}, [], {"x": 1}):
        refused = start(slug, body)
        assert 400 <= refused.status_code < 500 and "error" in refused.json(), body
    assert start("no-such-job", {}).status_code == 404
    failing = start("fragile", {"payload": 1}).json()["id"]
    run_until_idle(app)
    assert [record_of(app, i).result for i in ids] == [
        {"payload": {"url": "x"}, "args": [], "kwargs": {}},
        {"payload": 1, "args": [2], "kwargs": {}},
        {"payload": None, "args": [], "kwargs": {"k": "v"}},
        {"payload": 1, "args": [], "kwargs": {"k": 2}}]
    assert record_of(app, failing).state == "failed"

    def act(path: str, run_id: object) -> Any:
        return client.post(_fill(path, run_id))

    assert act(retry_path, failing).status_code < 300
    assert record_of(app, failing).state in ("queued", "scheduled")
    assert act(cancel_path, failing).status_code < 300
    assert record_of(app, failing).state == "cancelled"
    finished = act(cancel_path, ids[0])
    assert 400 <= finished.status_code < 500 and "error" in finished.json()
    for bad in ("999999", "abc", "-1", "1.5"):
        for path in (retry_path, cancel_path):
            response = act(path, bad)
            assert 400 <= response.status_code < 500 and "error" in response.json(), (path, bad)
