"""Blind probes across SPEC §6-12: later.js phrasings, process workers, sign-in, filters."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from datetime import timedelta
from pathlib import Path
from typing import Any

from starlette.testclient import TestClient

from conveyor import Conveyor, Retry
from conveyor.testing import FakeClock, inline, run_until_idle
from tests.acceptance.blind_surface.support import (
    AFTER,
    _client,
    _env,
    _items,
    _run_id,
    run_cli,
    u,
)
from tests.conformance.helpers import drain


def test_every_90_minutes_counts_from_creation(app: Conveyor) -> None:
    with FakeClock(app, start=AFTER) as clock:
        @app.job(trigger=app.every("90 minutes"))
        def ninety() -> None: ...

        run_until_idle(app, clock=clock)
        first = app.jobs_list(job="ninety", state="scheduled")
        assert [r.run_at for r in first] == [AFTER + timedelta(minutes=90)]
        clock.advance(90, "minutes")
        run_until_idle(app, clock=clock)
        second = app.jobs_list(job="ninety", state="scheduled")
    assert [r.run_at for r in second] == [AFTER + timedelta(minutes=180)]


def test_dashboard_refuses_a_public_bind_without_a_token(cli_app: Path) -> None:
    env = _env()
    env.pop("CONVEYOR_TOKEN", None)
    done = subprocess.run(
        [sys.executable, "-m", "conveyor", "dashboard", f"{cli_app}:app", "--host", "0.0.0.0",
         "--port", "0"], cwd=cli_app.parent, capture_output=True, text=True, timeout=30, env=env)
    assert done.returncode != 0
    assert "Traceback" not in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1, done.stderr


def test_cli_worker_file_path_logs_json_lines(cli_app: Path, url: str) -> None:
    ok = _run_id(run_cli("run", "grüße", "--payload", "1"))
    bad = _run_id(run_cli("run", "explode"))
    done = subprocess.run(
        [sys.executable, "-m", "conveyor", "worker", str(cli_app), "--burst",
         "--log-format", "json"], cwd=cli_app.parent, capture_output=True, text=True,
        timeout=60, env=_env())
    assert done.returncode == 0, done.stderr
    lines = [line for line in (done.stderr + done.stdout).splitlines() if line.strip()]
    records = [json.loads(line) for line in lines]
    text = json.dumps(records, ensure_ascii=False)
    assert "kaboom" in text
    with Conveyor(url) as reader:
        assert reader.get_job(ok).state == "completed"  # type: ignore[union-attr]
        assert reader.get_job(bad).state in ("failed", "scheduled")  # type: ignore[union-attr]


def test_sign_in_sets_a_safe_cookie_and_forms_need_csrf(app: Conveyor) -> None:
    client = TestClient(app.asgi(token="tok-123"), follow_redirects=False)
    login = client.get("/login")
    assert login.status_code == 200
    field = re.search(r'name="csrf[^"]*"\s+value="([^"]+)"', login.text) or re.search(
        r'value="([^"]+)"\s+name="csrf', login.text)
    data = {"token": "tok-123"}
    if field:
        data[re.search(r'name="(csrf[^"]*)"', login.text).group(1)] = field.group(1)  # type: ignore[union-attr]
    signed = client.post("/login", data=data)
    assert signed.status_code in (200, 302, 303), signed.text
    cookie = signed.headers.get("set-cookie", "")
    assert "httponly" in cookie.lower() and "samesite" in cookie.lower()
    assert client.get("/api/runs").status_code == 200
    no_csrf = client.post("/api/events", json={"name": "x", "payload": {}})
    assert no_csrf.status_code == 403  # a signed-in browser's post needs the CSRF token
    refused = client.post("/api/events", json={"name": "x", "payload": {}},
                          headers={"Origin": "https://evil.example",
                                   "Sec-Fetch-Site": "cross-site"})
    assert refused.status_code == 403


def test_runs_filter_by_state_job_text_and_owner(app: Conveyor) -> None:
    @app.job(retry=Retry(retries=0))
    def searchable(word: str) -> None:
        if word == "boom":
            raise RuntimeError("zebra-δ")

    searchable("apple").run_now()
    failing = searchable("boom").run_now()
    drain(app)
    client = _client(app)
    failed = client.get("/api/runs", params={"state": "failed", "job": "searchable"}).json()
    assert [r["id"] for r in _items(failed)] == [failing.id]
    found = client.get("/api/runs", params={"q": "zebra-δ"}).json()
    assert [r["id"] for r in _items(found)] == [failing.id]

    @app.job
    def owned() -> None: ...

    system = owned().run_now()
    numbered = owned().run_now(owner=42)
    named = owned().run_now(owner="zoë")
    client = _client(app)

    def ids(owner: str) -> list[int]:
        return sorted(r["id"] for r in _items(client.get("/api/runs", params={"owner": owner,
                                                                        "job": "owned"})
                                              .json()))

    assert ids("42") == [numbered.id]
    assert ids("zoë") == [named.id]
    assert ids("system") == [system.id]


def test_api_run_now_refuses_what_the_job_cannot_take(app: Conveyor) -> None:
    @app.job
    def takes(payload: Any) -> None: ...

    reply = _client(app).post("/api/jobs/takes/run", json={"payload": "a\u0000b"})
    assert reply.status_code == 400
    assert "error" in reply.json()
    assert app.jobs_list() == []

    @app.job
    def exact(a: int, *, b: int) -> int:
        return a + b

    client = _client(app)
    bad = client.post("/api/jobs/exact/run", json={"args": [1, 2, 3]})
    assert bad.status_code == 400 and "error" in bad.json()
    both = client.post("/api/jobs/exact/run", json={"payload": 1, "args": [1]})
    assert 400 <= both.status_code < 500
    good = client.post("/api/jobs/exact/run", json={"args": [1], "kwargs": {"b": -3}})
    assert good.status_code == 201, good.text
    drain(app)
    assert [r.result for r in app.jobs_list(job="exact")] == [-2]


def test_a_queue_rate_limit_holds_starts_per_window(app: Conveyor) -> None:
    app.queue("slow-ü", rate="2/minute")

    @app.job(queue="slow-ü")
    def limited(n: int) -> None: ...

    with FakeClock(app, start=AFTER) as clock:
        handles = [limited(n).run_now() for n in range(5)]
        run_until_idle(app, clock=clock)
        done = [h for h in handles if app.get_job(h.id).state == "completed"]  # type: ignore[union-attr]
        assert len(done) == 2
        clock.advance(61, "seconds")
        run_until_idle(app, clock=clock)
        done = [h for h in handles if app.get_job(h.id).state == "completed"]  # type: ignore[union-attr]
        assert len(done) == 4
    assert all(app.get_job(h.id).attempts <= 1 for h in handles)  # type: ignore[union-attr]


def test_an_isolated_attempt_that_segfaults_or_hangs_fails_alone(app: Conveyor) -> None:
    @app.job(isolation="process", retry=Retry(retries=0))
    def crash() -> None:
        import ctypes
        ctypes.string_at(0)

    @app.job(isolation="process", timeout=1, retry=Retry(retries=0))
    def sleepy() -> None:
        import time
        time.sleep(30)

    crashed, hung = crash().run_now(), sleepy().run_now()
    drain(app, concurrency=2)
    errors = {h.id: app.get_job(h.id) for h in (crashed, hung)}
    assert {r.state for r in errors.values() if r} == {"failed"}
    assert "SIGSEGV" in str(errors[crashed.id].error)  # type: ignore[union-attr]
    assert "timed out after" in str(errors[hung.id].error)  # type: ignore[union-attr]


def test_hooks_run_under_inline(app: Conveyor) -> None:
    seen: list[str] = []

    @app.on("completed")
    def hook(record: Any, error: Any = None) -> None:
        seen.append(record.job)

    @app.job("inline-ü")
    def inl() -> int:
        return 1

    with inline(app):
        inl().run_now()
    assert seen == ["inline-ü"] or [getattr(s, "id", s) for s in seen] == ["inline-ü"]


def test_run_until_idle_returns_past_self_rescheduling_and_paused_jobs(app: Conveyor) -> None:
    @app.job
    def again(n: int, meta: Any) -> None:
        meta.jobs.again(n + 1).run_in(1, "minute")

    again(0).run_now()
    run_until_idle(app)
    states = sorted(r.state for r in app.jobs_list(job="again"))
    assert states == ["completed", "scheduled"]

    @app.job
    def held() -> None: ...

    app.pause(job="held")
    h = held().run_now()
    run_until_idle(app)
    assert app.get_job(h.id).state == "queued"  # type: ignore[union-attr]


def test_fake_clock_moves_a_durable_wait_of_quarters(app: Conveyor) -> None:
    @app.job
    async def patient(io: Any) -> str:
        await io.wait("nap", 2, "quarters")
        return "awake"

    with FakeClock(app, start=u(2030, 1, 15)) as clock:
        h = patient().run_now()
        run_until_idle(app, clock=clock)
        assert app.get_job(h.id).state == "waiting"  # type: ignore[union-attr]
        clock.advance(5, "months")
        run_until_idle(app, clock=clock)
        assert app.get_job(h.id).state == "waiting"  # type: ignore[union-attr]
        clock.advance(1, "month")
        run_until_idle(app, clock=clock)
    assert h.result(timeout=10) == "awake"
