"""Blind probes across SPEC §6-12: cron corners, app timezones, CLI and API details,
graph corners."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from conveyor import Conveyor, JobFailed, Retry, chain, group
from conveyor.testing import FakeClock, run_until_idle
from tests.acceptance.blind_surface.support import (
    AFTER,
    _client,
    _env,
    _run_id,
    run_cli,
    u,
)
from tests.conformance.helpers import drain


def test_schedules_follow_a_quarter_hour_app_timezone(store_url: str) -> None:
    with Conveyor(store_url, timezone="Asia/Kathmandu") as app:
        @app.job(trigger=app.schedule("every day at noon"))
        def lunch() -> None: ...

        with FakeClock(app, start=AFTER) as clock:
            run_until_idle(app, clock=clock)
        pending = app.jobs_list(job="lunch", state="scheduled")
    assert [r.run_at for r in pending] == [u(2030, 1, 5, 6, 15)]  # noon at UTC+5:45


def test_cli_migrate_twice_and_purge(cli_app: Path, url: str) -> None:
    assert run_cli("migrate").exit_code == 0
    run_id = _run_id(run_cli("run", "grüße"))
    with Conveyor(url) as worker_app:
        @worker_app.job("grüße")
        def greet() -> None: ...
        drain(worker_app)
    assert run_cli("purge").exit_code == 0
    with Conveyor(url) as reader:
        assert reader.get_job(run_id) is None


def test_cli_schedules_json_shows_next_times_in_utc(cli_app: Path, url: str) -> None:
    with Conveyor(url, timezone="Pacific/Chatham") as scheduler:
        @scheduler.job("sched-ü", trigger=scheduler.cron("45 23 29 2 *"))
        def leap() -> None: ...
        run_until_idle(scheduler)
    listed = run_cli("schedules", "--json")
    assert listed.exit_code == 0, listed.output
    rows = [json.loads(line) for line in listed.stdout.splitlines() if line.strip()]
    mine = [row for row in rows if row.get("job") == "sched-ü"]
    assert len(mine) == 1
    times = [datetime.fromisoformat(t) for t in mine[0]["next"]]
    assert all(t.utcoffset() == timedelta() for t in times)
    chatham = ZoneInfo("Pacific/Chatham")
    assert all((t.astimezone(chatham).month, t.astimezone(chatham).day) == (2, 29)
               for t in times)


def test_the_worker_serves_metrics_on_its_own_port(cli_app: Path, url: str) -> None:
    import socket
    import time
    import urllib.request

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    run_id = _run_id(run_cli("run", "grüße"))
    worker = subprocess.Popen(
        [sys.executable, "-m", "conveyor", "worker", f"{cli_app}:app",
         "--metrics-port", str(port)], cwd=cli_app.parent, env=_env(),
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 30
        text = ""
        while time.monotonic() < deadline:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=30) as r:
                    text = r.read().decode()
                if re.search(r'conveyor_attempts_completed_total\{[^}]*job="grüße"[^}]*\} 1', text):
                    break
            except OSError:
                pass
            time.sleep(0.2)
        assert 'job="grüße"' in text, text[:2000]
        assert "conveyor_workers_alive" in text
    finally:
        worker.terminate()
        assert worker.wait(timeout=30) == 0
    with Conveyor(url) as reader:
        assert reader.get_job(run_id).state == "completed"  # type: ignore[union-attr]


def test_run_detail_shows_attempts_and_the_rescheduled_from_link(app: Conveyor) -> None:
    @app.job(retry=Retry(retries=1, wait=0), trigger=app.every("1 minute"))
    def ticker(meta: Any) -> None:
        if meta.attempt == 1:
            raise KeyError("ключ")

    with FakeClock(app, start=AFTER) as clock:
        run_until_idle(app, clock=clock)
        clock.advance(1, "minute")
        run_until_idle(app, clock=clock)
    records = sorted(app.jobs_list(job="ticker"), key=lambda r: r.id)
    done, following = records[0], records[-1]
    client = _client(app)
    detail = client.get(f"/api/runs/{done.id}").json()
    text = json.dumps(detail, ensure_ascii=False)
    assert "ключ" in text and "Traceback" in text
    later = json.dumps(client.get(f"/api/runs/{following.id}").json())
    assert following.rescheduled_from == done.id
    assert re.search(rf'"rescheduled_from": \{{?[^,]*{done.id}\b', later) or str(done.id) in later


def test_odd_dependency_lists_and_a_dependency_that_succeeds_on_retry(app: Conveyor) -> None:
    @app.job
    def leaf(x: int) -> int:
        return x

    a = leaf(1).run_now()
    twice = leaf(2).run_now(depends_on=[a, a])
    none = leaf(3).run_now(depends_on=[])
    assert app.get_job(none.id).state == "queued"  # type: ignore[union-attr]
    drain(app)
    assert twice.result(timeout=10) == 2 and none.result(timeout=10) == 3

    @app.job(retry=Retry(retries=2, wait=0))
    def wobbly(meta: Any) -> int:
        if meta.attempt == 1:
            raise RuntimeError("first try")
        return int(meta.attempt)

    @app.job
    def after_it() -> str:
        return "ran"

    a = wobbly().run_now()
    b = after_it().run_now(depends_on=[a])
    drain(app)
    assert a.result(timeout=10) == 2
    assert b.result(timeout=10) == "ran"


def test_cancel_cascade_from_the_first_member_of_a_chain(app: Conveyor) -> None:
    @app.job
    def link(x: Any = None) -> int:
        return 1

    handle = chain(link(0), link(), group(link(), link())).run_now()
    members = sorted(app.jobs_list(job="link"), key=lambda r: r.id)
    app.cancel(members[0].id, cascade=True)
    drain(app)
    assert {r.state for r in app.jobs_list(job="link")} == {"cancelled"}
    with pytest.raises(JobFailed):
        handle.result(timeout=10)


def test_the_retrying_hook_gets_the_error(app: Conveyor) -> None:
    got: list[Any] = []

    @app.on("retrying")
    def hook(record: Any, error: Any = None) -> None:
        got.append(error)

    @app.job(retry=Retry(retries=1, wait=0))
    def once(meta: Any) -> None:
        if meta.attempt == 1:
            raise OSError("disk ⛔")

    once().run_now()
    drain(app)
    assert len(got) == 1 and "disk ⛔" in str(got[0])
