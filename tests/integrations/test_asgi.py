"""app.asgi() mounted under a prefix, app.lifespan() running a worker, GET /metrics."""

from __future__ import annotations

import asyncio
import importlib
import logging
import re
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from prometheus_client.parser import text_string_to_metric_families
from starlette.testclient import TestClient

import conveyor.worker
from conveyor import Conveyor, web
from conveyor.errors import StoreError
from tests.support import ROOT, store_url, wait_for

fastapi = pytest.importorskip("fastapi")


def _samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


@pytest.fixture
def example(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    monkeypatch.setenv("CONVEYOR_URL", f"sqlite:///{tmp_path}/shop.db")
    monkeypatch.delenv("CONVEYOR_TOKEN", raising=False)
    monkeypatch.syspath_prepend(str(ROOT))
    sys.modules.pop("examples.fastapi_app.main", None)
    module = importlib.import_module("examples.fastapi_app.main")
    yield module
    module.app.close()
    sys.modules.pop("examples.fastapi_app.main", None)


def test_fastapi_example_runs_jobs_in_its_lifespan_and_mounts_the_dashboard(
    example: Any,
) -> None:
    with TestClient(example.api) as client:
        job_id = client.post("/orders/7").json()["job"]

        def done() -> bool:
            body = client.get(f"/orders/7/receipt?job={job_id}").json()
            return bool(body["state"] == "completed")

        wait_for(done)
        assert client.get(f"/orders/7/receipt?job={job_id}").json()["result"] == (
            "receipt for order 7 sent")
        page = client.get("/jobs/")
        assert page.status_code == 200
        links = re.findall(r'(?:href|src|action|hx-get)="([^"]+)"', page.text)
        site = [link for link in links if link.startswith("/")]
        assert site and all(link.startswith("/jobs/") for link in site), site
        assert client.get("/jobs/static/style.css").status_code == 200
        run = client.get(f"/jobs/runs/{job_id}")
        assert run.status_code == 200 and "send_receipt" in run.text
        assert client.get(f"/jobs/api/runs/{job_id}").json()["state"] == "completed"
        redirect = client.post(f"/jobs/runs/{job_id}/retry", follow_redirects=False,
                               headers={"Sec-Fetch-Site": "same-origin"})
        assert redirect.status_code in (303, 403)
        if redirect.status_code == 303:
            assert redirect.headers["location"].startswith("/jobs/")
        metrics = client.get("/jobs/metrics")
        assert metrics.status_code == 200
        samples = _samples(metrics.text)
        assert samples[("conveyor_jobs", (("queue", "default"), ("state", "completed")))] >= 1
        assert samples[("conveyor_attempts_completed_total", (("job", "send_receipt"),))] >= 1
        assert samples[("conveyor_workers_alive", ())] == 1


def test_metrics_count_what_ran(app: Conveyor) -> None:
    from conveyor import Fail, Retry

    @app.job
    def ok() -> None: ...

    @app.job(retry=Retry(retries=1, wait=0))
    def flaky() -> None:
        raise ValueError("x")

    @app.job
    def fatal() -> None:
        raise Fail("no")

    @app.job(queue="mail")
    def send() -> None: ...

    def counts() -> dict[Any, float]:
        return _samples(TestClient(app.asgi()).get("/metrics").text)

    before = counts()
    for _ in range(3):
        ok().run_now()
    flaky().run_now()
    fatal().run_now()
    app.run_worker(burst=True)
    send().run_in(30, "days")
    after = counts()

    def delta(name: str, job: str) -> float:
        key = (name, (("job", job),))
        return after.get(key, 0.0) - before.get(key, 0.0)

    assert delta("conveyor_attempts_started_total", "ok") == 3
    assert delta("conveyor_attempts_completed_total", "ok") == 3
    assert delta("conveyor_attempts_started_total", "flaky") == 2
    assert delta("conveyor_attempts_retried_total", "flaky") == 1
    assert delta("conveyor_attempts_failed_total", "flaky") == 1
    assert delta("conveyor_attempts_failed_total", "fatal") == 1
    assert delta("conveyor_run_duration_seconds_count", "ok") == 3
    assert delta("conveyor_start_latency_seconds_count", "ok") == 3
    assert after[("conveyor_jobs", (("queue", "default"), ("state", "completed")))] == 3
    assert after[("conveyor_jobs", (("queue", "default"), ("state", "failed")))] == 2
    assert after[("conveyor_jobs", (("queue", "mail"), ("state", "scheduled")))] == 1
    assert after[("conveyor_jobs", (("queue", "mail"), ("state", "completed")))] == 0


def test_prefix_for_a_proxy_that_does_not_strip_it(tmp_path: Path) -> None:
    app = Conveyor(f"sqlite:///{tmp_path}/p.db")
    client = TestClient(app.asgi(prefix="/ops/jobs"))
    page = client.get("/ops/jobs/runs")
    assert page.status_code == 200
    assert 'href="/ops/jobs/static/style.css"' in page.text
    assert client.get("/ops/jobs/api/counts").status_code == 200
    doc = client.get("/ops/jobs/api/openapi.json").json()  # its paths are under the prefix
    assert doc["servers"] == [{"url": "/ops/jobs"}] and "/api/counts" in doc["paths"]
    app.close()


@pytest.mark.parametrize("kind", ["sqlite", "postgres"])
def test_api_urls_point_under_the_mount(kind: str, request: pytest.FixtureRequest,
                                        tmp_path: Path) -> None:
    from starlette.applications import Starlette
    from starlette.routing import Mount

    app = Conveyor(store_url(kind, request, tmp_path))
    app.job("double")(lambda n: n * 2)
    client = TestClient(Starlette(routes=[Mount("/jobs", app=app.asgi())]))
    created = client.post("/jobs/api/jobs/double/run", json={"payload": 4})
    assert created.status_code == 201
    run_id = created.json()["id"]
    assert created.json()["url"] == f"/jobs/runs/{run_id}"
    assert client.get(created.json()["url"]).status_code == 200
    app.close()


@pytest.mark.parametrize("prefix", [None, 5, "/ops jobs", "/ops\x00", "/ops?x=1", "/ops#top",
                                    "https://example.com/ops"])
def test_asgi_refuses_a_prefix_that_is_not_a_url_path(prefix: Any) -> None:
    with Conveyor("memory://") as app, pytest.raises(ValueError, match="prefix"):
        app.asgi(prefix=prefix)


@pytest.mark.parametrize("token", [5, b"secret-token", " secret-token", "secret-token\n",
                                   "secret\x00token", "s\u00e9cret-token"])
def test_asgi_refuses_a_token_no_client_could_send(token: Any) -> None:
    with Conveyor("memory://") as app, pytest.raises(ValueError, match="token"):
        app.asgi(token=token)


def test_asgi_token_protects_the_api() -> None:
    with Conveyor("memory://") as app:
        client = TestClient(app.asgi(token="s3cret-Token_value"))
        assert client.get("/api/counts").status_code == 401
        ok = client.get("/api/counts", headers={"Authorization": "Bearer s3cret-Token_value"})
        assert ok.status_code == 200 and ok.json()["queued"] == 0


def test_asgi_token_defaults_to_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CONVEYOR_TOKEN", "s3cret-Token_value")
    with Conveyor("memory://") as app:
        client = TestClient(app.asgi())
        assert client.get("/api/counts").status_code == 401
        ok = client.get("/api/counts", headers={"Authorization": "Bearer s3cret-Token_value"})
        assert ok.status_code == 200


async def test_lifespan_as_a_context_manager() -> None:
    app = Conveyor("memory://")

    @app.job
    async def hello(name: str) -> str:
        return f"hi {name}"

    async with app.lifespan(concurrency=2):
        handle = await hello("ann").run_now()
        assert await handle.wait(timeout=10) == "hi ann"
    app.close()


async def test_a_lifespan_worker_that_stops_with_an_error_is_replaced(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """It was logged once and the web process served on with no worker at all."""
    monkeypatch.setattr(web, "RESTART_FIRST", 0.01)
    app = Conveyor("memory://")
    claim, calls = type(app.store).claim, []

    def unreachable_at_first(store: Any, *args: Any) -> Any:
        calls.append(1)
        if len(calls) <= 2:
            raise StoreError("cannot reach the store: connection refused")
        return claim(store, *args)

    monkeypatch.setattr(type(app.store), "claim", unreachable_at_first)

    @app.job
    async def hello() -> str:
        return "hi"

    with caplog.at_level(logging.ERROR, logger="conveyor"):
        async with app.lifespan(concurrency=1, outage_tolerance=0.01, poll_interval=0.05):
            handle = await hello().run_now()
            assert await handle.wait(timeout=10) == "hi"
    assert "worker stopped with an error; a new one starts in 0.01 s" in caplog.text
    app.close()


async def test_a_lifespan_worker_failing_after_a_long_run_is_replaced_after_the_first_delay(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """The restart delay doubles while the worker keeps failing, and starts over once a
    worker ran longer than the longest delay (a failure a day is not a failing streak)."""
    monkeypatch.setattr(web, "RESTART_FIRST", 0.001)
    clock = [0.0]
    monkeypatch.setattr(web, "monotonic", lambda: clock[0], raising=False)
    runs: list[int] = []
    done = asyncio.Event()

    class Flaky:
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            pass

        async def run(self) -> None:
            runs.append(1)
            if len(runs) == 3:
                clock[0] += 2 * web.RESTART_MOST  # this one ran for two minutes
            if len(runs) <= 3:
                raise StoreError("store unreachable")
            done.set()
            await asyncio.Event().wait()  # runs until stopped

        def stop(self, force: bool = False) -> None:
            pass

    monkeypatch.setattr(conveyor.worker, "Worker", Flaky)
    with Conveyor("memory://") as app, caplog.at_level(logging.ERROR, logger="conveyor"):
        lifespan = app.lifespan(concurrency=1)
        await lifespan.__aenter__()
        await asyncio.wait_for(done.wait(), 10)
        assert lifespan.task is not None
        lifespan.task.cancel()
        await asyncio.wait([lifespan.task])
    delays = re.findall(r"a new one starts in ([0-9.]+) s", caplog.text)
    assert delays == ["0.001", "0.002", "0.001"]


def test_cookies_of_a_mounted_dashboard_stay_under_its_mount() -> None:
    """Two dashboards on one host (/a, /b) keep their own sign-ins and CSRF cookies."""
    from starlette.applications import Starlette
    from starlette.routing import Mount

    token = "s3cret-Token_value"
    with Conveyor("memory://") as app:
        client = TestClient(Starlette(routes=[Mount("/a", app=app.asgi(token=token))]),
                            base_url="http://127.0.0.1")
        form = client.get("/a/login")
        assert "path=/a;" in form.headers["set-cookie"].lower()
        csrf = re.search(r'name="csrf_token" value="([^"]+)"', form.text)
        assert csrf is not None
        signed = client.post("/a/login", data={"csrf_token": csrf.group(1), "token": token},
                             follow_redirects=False)
        assert signed.status_code == 303 and "path=/a;" in signed.headers["set-cookie"].lower()
        assert client.get("/a/runs").status_code == 200  # the cookie is sent back
