"""Black-box acceptance tests of SPEC §6, 7, 9, 10, 11 and 12 with inputs SPEC's examples do
not use: leap days, DST transitions, unicode names, big limits, zero and negative values, CLI
invocations, dashboard HTTP endpoints, hooks, metrics and logs. Written from SPEC alone."""

from __future__ import annotations

import asyncio
import itertools
import json
import logging
import math
import re
import subprocess
import sys
import textwrap
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from click.testing import CliRunner, Result
from starlette.applications import Starlette
from starlette.routing import Mount
from starlette.testclient import TestClient

from conveyor import Conveyor, Fail, JobFailed, Retry, chain, group, parse_schedule
from conveyor.cli import main as cli
from conveyor.testing import FakeClock, enqueued, inline, run_until_idle
from tests.conformance.helpers import drain

AFTER = datetime(2030, 1, 4, 8, 7, tzinfo=UTC)  # a Friday
NEW_YORK = ZoneInfo("America/New_York")


def u(*parts: int) -> datetime:
    return datetime(*parts, tzinfo=UTC)  # type: ignore[arg-type,misc]


@pytest.fixture
def app(store_url: str) -> Iterator[Conveyor]:
    """An app on an empty memory, SQLite and PostgreSQL store."""
    with Conveyor(store_url) as application:
        yield application


def _next(text: str, after: datetime = AFTER, count: int = 3, tz: str | None = None
          ) -> list[datetime]:
    times = parse_schedule(text, tz=tz).next(after=after, count=count)
    assert all(t.tzinfo is not None for t in times)
    return [t.astimezone(UTC) for t in times]


# -- §6 schedules: parse_schedule ---------------------------------------------------------------


@pytest.mark.parametrize(("text", "expected"), [
    ("0 0 29 2 *", [u(2032, 2, 29), u(2036, 2, 29), u(2040, 2, 29)]),
    ("0 0 0 29 2 *", [u(2032, 2, 29), u(2036, 2, 29), u(2040, 2, 29)]),
    ("0 0 31 * *", [u(2030, 1, 31), u(2030, 3, 31), u(2030, 5, 31)]),
    ("@weekly", [u(2030, 1, 6), u(2030, 1, 13), u(2030, 1, 20)]),
    ("@annually", [u(2031, 1, 1), u(2032, 1, 1), u(2033, 1, 1)]),
    ("@midnight", [u(2030, 1, 5), u(2030, 1, 6), u(2030, 1, 7)]),
    ("every 7 minutes", [u(2030, 1, 4, 8, 14), u(2030, 1, 4, 8, 21), u(2030, 1, 4, 8, 28)]),
    ("every 45 seconds", [u(2030, 1, 4, 8, 7, 45), u(2030, 1, 4, 8, 8), u(2030, 1, 4, 8, 8, 45)]),
    ("every day at 12:00 am", [u(2030, 1, 5), u(2030, 1, 6), u(2030, 1, 7)]),
    ("every day at 12:00 pm", [u(2030, 1, 4, 12), u(2030, 1, 5, 12), u(2030, 1, 6, 12)]),
    ("every saturday, sunday at noon", [u(2030, 1, 5, 12), u(2030, 1, 6, 12),
                                        u(2030, 1, 12, 12)]),
    ("every 2 hours between the 5th and 10th hour",
     [u(2030, 1, 4, 9), u(2030, 1, 5, 5), u(2030, 1, 5, 7)]),
    ("on the 15th day of the year", [u(2030, 1, 15), u(2031, 1, 15), u(2032, 1, 15)]),
    ("at 10:15 am also at 5:00 pm", [u(2030, 1, 4, 10, 15), u(2030, 1, 4, 17),
                                     u(2030, 1, 5, 10, 15)]),
    ("every 5 min", [u(2030, 1, 4, 8, 10), u(2030, 1, 4, 8, 15), u(2030, 1, 4, 8, 20)]),
    ("every 20 s", [u(2030, 1, 4, 8, 7, 20), u(2030, 1, 4, 8, 7, 40), u(2030, 1, 4, 8, 8)]),
    ("every 10 mins starting on the 5th min", [u(2030, 1, 4, 8, 15), u(2030, 1, 4, 8, 25),
                                                u(2030, 1, 4, 8, 35)]),
    ("every weekend", [u(2030, 1, 5), u(2030, 1, 6), u(2030, 1, 12)]),
    ("on the last day of the month at 23:59",
     [u(2030, 1, 31, 23, 59), u(2030, 2, 28, 23, 59), u(2030, 3, 31, 23, 59)]),
    ("0 0 13 * 5", [u(2030, 1, 11), u(2030, 1, 13), u(2030, 1, 18)]),  # the 13th OR a Friday
    ("0 0 * * 7", [u(2030, 1, 6), u(2030, 1, 13), u(2030, 1, 20)]),
    ("0 0 1 JAN,jul *", [u(2030, 7, 1), u(2031, 1, 1), u(2031, 7, 1)]),
    ("0 9 * * MON-wed", [u(2030, 1, 7, 9), u(2030, 1, 8, 9), u(2030, 1, 9, 9)]),
    ("5-59/20 8 * * *", [u(2030, 1, 4, 8, 25), u(2030, 1, 4, 8, 45), u(2030, 1, 5, 8, 5)]),
    ("every 2 months", [u(2030, 3, 1), u(2030, 5, 1), u(2030, 7, 1)]),
])
def test_odd_but_valid_schedules(text: str, expected: list[datetime]) -> None:
    assert _next(text) == expected



@pytest.mark.parametrize(("text", "after", "expected"), [
    ("every 7 minutes", u(2030, 1, 4, 8, 50), [u(2030, 1, 4, 8, 56), u(2030, 1, 4, 9),
                                               u(2030, 1, 4, 9, 7)]),  # restarts each hour
    ("every 3 days", u(2030, 1, 29), [u(2030, 1, 31), u(2030, 2, 1), u(2030, 2, 4)]),
    ("on the last day of the month", u(2032, 2, 1), [u(2032, 2, 29), u(2032, 3, 31),
                                                     u(2032, 4, 30)]),
])
def test_schedules_restart_each_period_and_know_leap_years(text: str, after: datetime,
                                                           expected: list[datetime]) -> None:
    assert _next(text, after=after) == expected


def test_cron_fires_once_on_the_day_clocks_fall_back() -> None:
    times = _next("30 1 * * *", after=u(2030, 11, 2, 12), count=3, tz="America/New_York")
    local_dates = [t.astimezone(NEW_YORK).date() for t in times]
    assert len(set(local_dates)) == 3
    assert u(2030, 11, 4, 6, 30) in times  # 1:30 EST
    assert all(t.astimezone(NEW_YORK).hour == 1 for t in times)


def test_cron_in_the_skipped_hour_never_fires_twice_a_day() -> None:
    times = _next("30 2 * * *", after=u(2030, 3, 9, 12), count=3, tz="America/New_York")
    assert times == sorted(set(times))
    assert len({t.astimezone(NEW_YORK).date() for t in times}) == 3
    assert u(2030, 3, 11, 6, 30) in times  # 2:30 EDT the next day


@pytest.mark.parametrize("after", [u(2030, 3, 10, 5), u(2030, 11, 3, 4)])
def test_every_15_minutes_keeps_its_pace_across_dst(after: datetime) -> None:
    times = _next("every 15 minutes", after=after, count=16, tz="America/New_York")
    gaps = {b - a for a, b in itertools.pairwise(times)}
    assert gaps == {timedelta(minutes=15)}


def test_next_can_give_many_times_in_order() -> None:
    times = _next("every 1 minute", count=2000)
    assert len(times) == 2000
    assert times == sorted(set(times))
    assert times[-1] - times[0] == timedelta(minutes=1999)


@pytest.mark.parametrize("count", [-1, -100])
def test_a_negative_count_is_refused(count: int) -> None:
    with pytest.raises(ValueError):
        parse_schedule("every day").next(after=AFTER, count=count)


@pytest.mark.parametrize(("text", "word"), [
    ("every mönday", "mönday"),
    ("every day at 9:30 am 🙂", "🙂"),
    ("every 5 fortnights", "fortnights"),
])
def test_unicode_and_unknown_words_are_named(text: str, word: str) -> None:
    with pytest.raises(ValueError) as caught:
        parse_schedule(text)
    assert word in str(caught.value)


@pytest.mark.parametrize("text", [
    "every 0 minutes", "every -5 minutes", "every 0 hours", "*/0 * * * *",
    "every day at 13:00 pm", "every day at 9:60", "0 0 32 * *", "0 0 * 13 *", "@reboot",
    "0 0 * * 8", "0 0 * * FUNDAY", "* * * * * * * *",
])
def test_zero_negative_and_impossible_values_are_refused(text: str) -> None:
    with pytest.raises(ValueError):
        parse_schedule(text)


@pytest.mark.parametrize("text", ["0 0 30 2 *", "0 0 31 4 *"])
def test_a_cron_that_can_never_fire_is_refused_or_gives_nothing(text: str) -> None:
    try:
        schedule = parse_schedule(text)
    except ValueError:
        return
    assert schedule.next(after=AFTER, count=2) == []


def test_an_unknown_timezone_is_a_clear_error() -> None:
    with pytest.raises(Exception) as caught:
        parse_schedule("every day", tz="Mars/Olympus_Mons")
    assert "Mars/Olympus_Mons" in str(caught.value)


# -- §6 schedules: stored occurrences -----------------------------------------------------------


def test_a_leap_day_cron_in_a_half_hour_timezone_is_stored_as_scheduled(app: Conveyor) -> None:
    @app.job("nächtlich-é", trigger=app.cron("30 2 29 2 *", tz="Asia/Kolkata"))
    def nightly() -> None: ...

    with FakeClock(app, start=u(2031, 6, 1)) as clock:
        run_until_idle(app, clock=clock)
    records = app.jobs_list(job="nächtlich-é")
    assert [(r.state, r.run_at) for r in records] == [("scheduled", u(2032, 2, 28, 21))]


def test_after_downtime_a_missed_occurrence_runs_once(app: Conveyor) -> None:
    ran: list[int] = []

    @app.job(trigger=app.every("15 minutes"))
    def tick() -> None:
        ran.append(1)

    with FakeClock(app, start=AFTER) as clock:
        run_until_idle(app, clock=clock)
        clock.advance(3, "hours")
        run_until_idle(app, clock=clock)
        pending = [r for r in app.jobs_list(job="tick") if r.state == "scheduled"]
    assert len(ran) == 1
    assert [r.run_at for r in pending] == [u(2030, 1, 4, 11, 15)]


def test_declaring_a_schedule_in_two_apps_does_not_double_it(
        open_app: Callable[..., Conveyor]) -> None:
    apps = [open_app(), open_app()]
    for application in apps:
        @application.job("rapport-日次",
                         trigger=application.schedule("every weekday at 9:30 am"))
        def report() -> None: ...

    for application in apps:
        run_until_idle(application)
    assert len(apps[0].jobs_list(job="rapport-日次", state="scheduled")) == 1


def test_a_run_time_schedule_with_unicode_type_and_data_is_upserted(app: Conveyor) -> None:
    seen: list[Any] = []

    @app.job("café-sync")
    def cafe(data: Any) -> None:
        seen.append(data)

    with FakeClock(app, start=AFTER) as clock:
        for _ in range(2):
            app.schedule_job(type="café-sync", data={"ville": "Zürich"}, schedule="every day")
        app.schedule_job(type="café-sync", data={"ville": "Malmö"}, schedule="every day")
        pending = app.jobs_list(job="café-sync", state="scheduled")
        assert len(pending) == 2
        clock.advance(1, "day")
        run_until_idle(app, clock=clock)
    assert sorted(d["ville"] for d in seen) == ["Malmö", "Zürich"]


def test_a_bad_run_time_schedule_is_refused_and_stores_nothing(app: Conveyor) -> None:
    @app.job
    def nope(data: Any) -> None: ...

    with pytest.raises(ValueError, match="fortnight"):
        app.schedule_job(type="nope", data={}, schedule="every fortnight")
    assert app.jobs_list(job="nope") == []


# -- §7 worker ----------------------------------------------------------------------------------


def test_a_burst_worker_leaves_future_and_paused_work(app: Conveyor) -> None:
    @app.job(queue="ëxports")
    def export() -> None: ...

    @app.job
    def later() -> None: ...

    later().run_in(1, "hour")
    app.pause(queue="ëxports")
    h = export().run_now()
    app.run_worker(concurrency=256, burst=True)
    rec = app.get_job(h.id)
    assert rec is not None and rec.state == "queued"
    assert [r.state for r in app.jobs_list(job="later")] == ["scheduled"]
    app.resume(queue="ëxports")
    drain(app)
    assert h.result(timeout=10) is None


# -- §7 CLI -------------------------------------------------------------------------------------

APP_SOURCE = textwrap.dedent("""
    import os
    from conveyor import Conveyor, Retry

    app = Conveyor(os.environ["BLIND_URL"])
    seen = []

    @app.job("grüße")
    def greet(payload=None, *args, **kwargs):
        return {"payload": payload, "args": list(args), "kwargs": kwargs}

    @app.job
    def explode():
        raise RuntimeError("kaboom")
""")


@pytest.fixture
def cli_app(tmp_path: Path, url: str, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A module file defining ``app`` on the test's store (SQLite, PostgreSQL); returns it."""
    source = tmp_path / "blind_jobs.py"
    source.write_text(APP_SOURCE)
    monkeypatch.setenv("BLIND_URL", url)
    monkeypatch.setenv("CONVEYOR_APP", f"{source}:app")
    monkeypatch.chdir(tmp_path)
    assert run_cli("migrate").exit_code == 0
    return source


def run_cli(*args: str) -> Result:
    return CliRunner().invoke(cli, list(args), catch_exceptions=False)


def assert_user_error(result: Result, *words: str) -> None:
    assert result.exit_code not in (0, None), result.output
    assert "Traceback" not in result.output
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    for word in words:
        assert word in lines[0]


def _run_id(result: Result) -> int:
    assert result.exit_code == 0, result.output
    return int(re.findall(r"\d+", result.stdout)[-1])


def test_cli_version() -> None:
    result = run_cli("--version")
    assert result.exit_code == 0
    assert re.search(r"\d+\.\d+", result.stdout)


def test_cli_run_with_a_unicode_payload_then_list_it_as_json(cli_app: Path, url: str) -> None:
    run_id = _run_id(run_cli("run", "grüße", "--payload", '{"name": "Zoë ✓", "n": [1, 2]}'))
    listed = run_cli("runs", "--json")
    assert listed.exit_code == 0, listed.output
    rows = [json.loads(line) for line in listed.stdout.splitlines() if line.strip()]
    assert len(rows) == 1
    for key, value in rows[0].items():
        if key.endswith("_at") and value is not None:
            assert datetime.fromisoformat(value.replace("Z", "+00:00")).utcoffset() == timedelta()
    with Conveyor(url) as reader:
        @reader.job("grüße")
        def greet(payload: Any = None, *args: Any, **kwargs: Any) -> Any:
            return {"payload": payload, "args": list(args), "kwargs": kwargs}
        drain(reader)
        rec = reader.get_job(run_id)
    assert rec is not None and rec.state == "completed"
    assert rec.result == {"payload": {"name": "Zoë ✓", "n": [1, 2]}, "args": [], "kwargs": {}}


def test_cli_run_with_args_kwargs_a_fractional_while_and_a_time(cli_app: Path, url: str) -> None:
    first = _run_id(run_cli("run", "grüße", "--args", '["ä", 2]'))
    second = _run_id(run_cli("run", "grüße", "--kwargs", '{"ü": true}'))
    with Conveyor(url) as reader:
        a, b = reader.get_job(first), reader.get_job(second)
    assert a is not None and a.args == ["ä", 2]
    assert b is not None and b.kwargs == {"ü": True}

    before = datetime.now(UTC)
    later = _run_id(run_cli("run", "grüße", "--in", "1.5 hours"))
    at = _run_id(run_cli("run", "grüße", "--at", "2032-02-29T23:59:59+00:00"))
    with Conveyor(url) as reader:
        a, b = reader.get_job(later), reader.get_job(at)
    assert a is not None and a.state == "scheduled" and a.run_at is not None
    assert timedelta(minutes=89) < a.run_at - before < timedelta(minutes=91)
    assert b is not None and b.run_at == u(2032, 2, 29, 23, 59, 59)



@pytest.mark.parametrize(("args", "word"), [
    (("run", "no-such-job"), "no-such-job"),
    (("run", "grüße", "--payload", "{bad"), ""),
    (("run", "grüße", "--payload", '{"a": NaN}'), ""),
    (("run", "grüße", "--payload", '{"a": Infinity}'), ""),
    (("run", "grüße", "--payload", '"nul \\u0000 here"'), ""),
    (("run", "grüße", "--payload", "[" * 100 + "]" * 100), ""),
    (("run", "explode", "--payload", '{"a": 1}'), ""),
    (("run", "explode", "--kwargs", '{"nope": 1}'), ""),
    (("run", "grüße", "--in", "5 fortnights"), "fortnight"),
    (("run", "grüße", "--in", "-5 seconds"), ""),
    (("run", "grüße", "--at", "2031-02-29T00:00"), ""),
    (("show", "987654321"), "987654321"),
    (("runs", "--url", "nosuchdb://x/y"), ""),
    (("runs", "--url", "postgresql://postgres@127.0.0.1:1/nowhere"), ""),
    (("jobs", "--app", "no_such_module_xyz:app"), "no_such_module_xyz"),
    (("worker", "blind_jobs:app", "--concurrency", "0"), ""),
])
def test_cli_user_errors_are_one_line_without_traceback(cli_app: Path, url: str,
                                                        args: tuple[str, ...], word: str) -> None:
    assert_user_error(run_cli(*args), word)
    with Conveyor(url) as reader:
        assert reader.jobs_list() == []



def test_cli_read_only_verbs_create_no_store(cli_app: Path, tmp_path: Path) -> None:
    missing = tmp_path / "never" / "made.db"
    other = tmp_path / "absent.db"
    for verb in ("runs", "schedules", "queues"):
        result = run_cli(verb, "--url", f"sqlite:///{other}")
        assert "Traceback" not in result.output
        assert result.exit_code != 0, result.output
    result = run_cli("show", "1", "--url", f"sqlite:///{missing}")
    assert result.exit_code != 0
    assert not other.exists() and not missing.parent.exists()


def test_cli_cancel_retry_pause_and_resume(cli_app: Path, url: str) -> None:
    ids = [_run_id(run_cli("run", "grüße", "--in", "1 day")) for _ in range(2)]
    result = run_cli("cancel", *map(str, ids))
    assert result.exit_code == 0, result.output
    with Conveyor(url) as reader:
        assert [reader.get_job(i).state for i in ids] == ["cancelled", "cancelled"]  # type: ignore[union-attr]
    result = run_cli("retry", *map(str, ids))
    assert result.exit_code == 0, result.output
    with Conveyor(url) as reader:
        states = [reader.get_job(i).state for i in ids]  # type: ignore[union-attr]
    assert set(states) <= {"queued", "scheduled"}

    assert run_cli("pause", "--job", "grüße").exit_code == 0
    with Conveyor(url) as reader:
        assert "grüße" in reader.paused_jobs()
    assert run_cli("resume", "--job", "grüße").exit_code == 0
    with Conveyor(url) as reader:
        assert "grüße" not in reader.paused_jobs()



def test_cli_runs_filters_failed_and_show_prints_the_error(cli_app: Path, url: str) -> None:
    run_id = _run_id(run_cli("run", "explode"))
    _run_id(run_cli("run", "grüße"))
    with Conveyor(url) as worker_app:
        @worker_app.job
        def explode() -> None:
            raise RuntimeError("kaboom")

        @worker_app.job("grüße")
        def greet() -> None: ...
        drain(worker_app)
    failed = run_cli("runs", "--state", "failed", "--json")
    rows = [json.loads(line) for line in failed.stdout.splitlines() if line.strip()]
    assert [row["id"] for row in rows] == [run_id]
    shown = run_cli("show", str(run_id))
    assert shown.exit_code == 0 and "kaboom" in shown.stdout

    run_id = _run_id(run_cli("run", "grüße", "--at", "2031-06-01T12:00:00+02:00"))
    shown = run_cli("show", str(run_id), "--json")
    assert shown.exit_code == 0, shown.output
    row = json.loads(shown.stdout.strip().splitlines()[0])
    run_at = datetime.fromisoformat(row["run_at"].replace("Z", "+00:00"))
    assert run_at == u(2031, 6, 1, 10) and run_at.utcoffset() == timedelta()



def _env() -> dict[str, str]:
    import os

    env = dict(os.environ)
    env.pop("CONVEYOR_APP", None)
    return env


# -- §7 dashboard and HTTP API ------------------------------------------------------------------


def _client(app: Conveyor, **options: Any) -> TestClient:
    return TestClient(app.asgi(**options))


def test_post_event_with_unicode_name_starts_runs_once_per_id(app: Conveyor) -> None:
    @app.job(trigger=app.event("ünïcode.évent", filter={"tier": ["🥇"]}))
    def on_event(payload: Any) -> Any:
        return payload

    client = _client(app)
    for _ in range(2):
        reply = client.post("/api/events", json={"name": "ünïcode.évent",
                                                 "payload": {"tier": "🥇"}, "id": "ev-1"})
        assert reply.status_code < 300, reply.text
    client.post("/api/events", json={"name": "ünïcode.évent", "payload": {"tier": "🥈"}})
    assert len(app.jobs_list(job="on_event")) == 1


@pytest.mark.parametrize("body", ["{", "[]", '{"payload": {}}', '{"name": 5}',
                                  '{"name": "", "payload": {}}'])
def test_malformed_events_are_4xx_json(app: Conveyor, body: str) -> None:
    reply = _client(app).post("/api/events", content=body,
                              headers={"Content-Type": "application/json"})
    assert 400 <= reply.status_code < 500
    assert "error" in reply.json()


def test_an_oversized_body_is_413(app: Conveyor) -> None:
    big = json.dumps({"name": "x", "payload": {"blob": "a" * (1024 * 1024 + 10)}})
    reply = _client(app).post("/api/events", content=big,
                              headers={"Content-Type": "application/json"})
    assert reply.status_code == 413
    assert "error" in reply.json()


def test_run_now_retry_and_cancel_through_the_api(app: Conveyor) -> None:
    @app.job("ñandú", retry=Retry(retries=0))
    def nandu(payload: Any) -> Any:
        if payload.get("fail"):
            raise RuntimeError("nope")
        return payload

    client = _client(app)
    made = client.post("/api/jobs/" + _slug(client, "ñandú") + "/run",
                       json={"payload": {"fail": True}})
    assert made.status_code == 201, made.text
    run_id = _id_in(made.json())
    drain(app)
    assert app.get_job(run_id).state == "failed"  # type: ignore[union-attr]
    assert client.post(f"/api/runs/{run_id}/retry").status_code < 300
    assert app.get_job(run_id).state in ("queued", "scheduled")  # type: ignore[union-attr]
    assert client.post(f"/api/runs/{run_id}/cancel").status_code < 300
    assert app.get_job(run_id).state == "cancelled"  # type: ignore[union-attr]
    detail = client.get(f"/api/runs/{run_id}")
    assert detail.status_code == 200 and "nope" in detail.text


def _slug(client: TestClient, job_id: str) -> str:
    jobs = client.get("/api/jobs").json()
    items = jobs if isinstance(jobs, list) else next(v for v in jobs.values()
                                                     if isinstance(v, list))
    return next(str(j["slug"]) for j in items if j.get("id") == job_id)


def _id_in(body: Any) -> int:
    if isinstance(body, dict):
        for key in ("id", "run_id"):
            if isinstance(body.get(key), int):
                return int(body[key])
        for value in body.values():
            if isinstance(value, dict):
                return _id_in(value)
    raise AssertionError(body)


@pytest.mark.parametrize(("method", "path"), [
    ("POST", "/api/runs/987654321/cancel"), ("POST", "/api/runs/abc/cancel"),
    ("POST", "/api/runs/0/retry"), ("POST", "/api/jobs/no-such-job/pause"),
    ("GET", "/api/runs/99999999999999999999999"),
    ("POST", "/api/runs/99999999999999999999999/cancel"),
    ("GET", "/api/runs?state=bogus"), ("GET", "/api/runs?limit=-1"), ("GET", "/api/runs?limit=0"),
    ("GET", "/api/runs?before=abc"), ("GET", "/api/runs?limit=99999999999999999999999"),
    ("GET", "/api/runs?parent=99999999999999999999999"), ("GET", "/api/runs?owner=" + "x" * 5000),
    ("GET", "/api/runs?q=" + "x" * 30_000),
])
def test_bad_ids_and_filters_are_4xx_json(app: Conveyor, method: str, path: str) -> None:
    reply = _client(app).request(method, path)
    assert 400 <= reply.status_code < 500, reply.text
    if reply.status_code != 414:
        assert "error" in reply.json()


def test_pause_a_unicode_queue_through_the_api(app: Conveyor) -> None:
    app.queue("files-ü", concurrency=3)
    client = _client(app)
    assert client.post("/api/queues/files-%C3%BC/pause").status_code < 300
    info = {q.name: q for q in app.queues()}
    assert info["files-ü"].paused is True
    assert client.post("/api/queues/files-%C3%BC/resume").status_code < 300
    assert {q.name: q for q in app.queues()}["files-ü"].paused is False


def test_a_token_protects_the_api(app: Conveyor, monkeypatch: pytest.MonkeyPatch) -> None:
    token = "s3cr3t-✓".encode().hex()
    client = _client(app, token=token)
    assert client.get("/api/runs").status_code == 401
    assert client.get("/api/runs", headers={"Authorization": "Bearer wrong"}).status_code == 401
    assert client.get("/api/runs", headers={"Authorization": f"Bearer {token}"}
                      ).status_code == 200
    reply = client.post("/api/events", json={"name": "x", "payload": {}},
                        headers={"Authorization": f"Bearer {token}"})
    assert reply.status_code < 300

    monkeypatch.setenv("CONVEYOR_TOKEN", "from-env-✓".encode().hex())
    assert _client(app).get("/api/runs").status_code == 401


def test_cross_site_posts_are_refused(app: Conveyor) -> None:
    reply = _client(app).post("/api/events", json={"name": "x", "payload": {}},
                              headers={"Origin": "https://evil.example",
                                       "Sec-Fetch-Site": "cross-site"})
    assert reply.status_code == 403
    assert app.jobs_list() == []


def test_the_dashboard_mounts_under_a_prefix(app: Conveyor) -> None:
    outer = Starlette(routes=[Mount("/ops/jobs", app=app.asgi(prefix="/ops/jobs"))])
    with TestClient(outer) as client:
        assert client.get("/ops/jobs/api/openapi.json").status_code == 200


def test_metrics_count_jobs_by_state_and_queue_and_attempts_by_job(app: Conveyor) -> None:
    @app.job(queue="métriques")
    def measured() -> None: ...

    measured().run_now()
    measured().run_in(1, "day")
    drain(app)
    text = _client(app).get("/metrics").text
    lines = [line for line in text.splitlines()
             if line.startswith("conveyor_jobs{") and 'queue="métriques"' in line]
    by_state = {re.search(r'state="(\w+)"', line).group(1):  # type: ignore[union-attr]
                float(line.rsplit(" ", 1)[1]) for line in lines}
    assert by_state["completed"] == 1 and by_state["scheduled"] == 1

    @app.job(retry=Retry(retries=1, wait=0))
    def counted(fail: bool, meta: Any) -> None:
        if fail:
            raise RuntimeError("x")

    def values() -> dict[str, float]:
        text = _client(app).get("/metrics").text
        found = dict.fromkeys(("started", "completed", "retried", "failed"), 0.0)
        for line in text.splitlines():
            name = re.match(r"conveyor_attempts_(\w+)_total\{.*job=\"counted\"", line)
            if name:
                found[name.group(1)] += float(line.rsplit(" ", 1)[1])
        return found

    before = values()  # counters are the process's, so other tests may have moved them
    counted(False).run_now()
    counted(True).run_now()
    drain(app)
    after = values()
    assert {k: after[k] - before[k] for k in after} == {
        "started": 3, "completed": 1, "retried": 1, "failed": 1}


def test_user_data_in_pages_is_escaped(app: Conveyor) -> None:
    @app.job
    def xss(payload: Any) -> None:
        raise RuntimeError("<script>alert(1)</script>")

    h = xss("<img src=x onerror=alert(1)>").run_now()
    drain(app)
    client = _client(app)
    pages = [client.get(path) for path in ("/", f"/runs/{h.id}")]
    html = "".join(p.text for p in pages if p.status_code == 200)
    assert html
    assert "<script>alert(1)</script>" not in html
    assert "<img src=x" not in html


# -- §9 flow control ----------------------------------------------------------------------------


@pytest.mark.parametrize("options", [
    {"concurrency": 0}, {"concurrency": -1}, {"concurrency": 2.5}, {"rate": "0/second"},
    {"rate": "-3/minute"}, {"rate": "5/fortnight"}, {"rate": "ten/second"},
])
def test_nonsense_limits_are_refused_at_definition(sqlite_app: Conveyor,
                                                   options: dict[str, Any]) -> None:
    with pytest.raises((ValueError, TypeError)):
        sqlite_app.job(**options)(lambda: None)


@pytest.mark.parametrize("options", [{"concurrency": 0}, {"rate": "0/day"}, {"rate": "1/yr"}])
def test_nonsense_queue_limits_are_refused(sqlite_app: Conveyor, options: dict[str, Any]) -> None:
    with pytest.raises(ValueError):
        sqlite_app.queue("q", **options)


def test_big_queue_limits_are_shown_as_declared(app: Conveyor) -> None:
    app.queue("ëxports-大", concurrency=10**6, rate="100000/day")
    info = {q.name: q for q in app.queues()}["ëxports-大"]
    assert info.concurrency == 10**6
    assert info.rate == "100000/day"
    assert info.paused is False
    assert all(v == 0 for v in info.counts.values())


def test_concurrency_keys_from_a_dotted_path_and_a_callable(app: Conveyor) -> None:
    @app.job(concurrency=1, concurrency_key="shop.id")
    def by_path(payload: Any) -> None: ...

    @app.job(concurrency=1, concurrency_key=lambda args, kwargs: f"k-{kwargs['n'] % 2}")
    def by_call(n: int) -> None: ...

    a = by_path({"shop": {"id": "ß-7"}}).run_now()
    b = by_call(n=5).run_now()
    assert app.get_job(a.id).concurrency_key == "ß-7"  # type: ignore[union-attr]
    assert app.get_job(b.id).concurrency_key == "k-1"  # type: ignore[union-attr]
    drain(app)
    assert a.result(timeout=10) is None and b.result(timeout=10) is None


def test_a_paused_unicode_job_is_listed_and_held(app: Conveyor) -> None:
    @app.job("тест-job")
    def test_job() -> None: ...

    app.pause(job="тест-job")
    assert "тест-job" in app.paused_jobs()
    h = test_job().run_now()
    drain(app)
    assert app.get_job(h.id).state == "queued"  # type: ignore[union-attr]
    app.resume(job="тест-job")
    assert app.paused_jobs() == []
    drain(app)
    assert app.get_job(h.id).state == "completed"  # type: ignore[union-attr]


# -- §10 workflows ------------------------------------------------------------------------------


def test_depending_on_a_failed_or_cancelled_run_cancels_at_once(app: Conveyor) -> None:
    @app.job(retry=Retry(retries=0))
    def bad() -> None:
        raise Fail("no")

    @app.job
    def after(x: Any = None) -> None: ...

    h = bad().run_now()
    drain(app)
    dependent = after().run_now(depends_on=[h])
    rec = app.get_job(dependent.id)
    assert rec is not None and rec.state == "cancelled"
    assert str(h.id) in str(rec.error)

    @app.job
    def first() -> None: ...

    a = first().run_in(1, "day")
    app.cancel(a.id)
    b = first().run_now(depends_on=[a])
    rec = app.get_job(b.id)
    assert rec is not None and rec.state == "cancelled" and str(a.id) in str(rec.error)


def test_failure_and_cancel_cascade_down_the_graph(app: Conveyor) -> None:
    @app.job(retry=Retry(retries=0))
    def root() -> None:
        raise RuntimeError("root broke")

    @app.job
    def step(x: Any = None) -> None: ...

    a = root().run_now()
    b = step().run_now(depends_on=[a])
    c = step().run_now(depends_on=[b])
    assert app.get_job(c.id).state == "blocked"  # type: ignore[union-attr]
    drain(app)
    b_rec, c_rec = app.get_job(b.id), app.get_job(c.id)
    assert b_rec is not None and b_rec.state == "cancelled" and str(a.id) in str(b_rec.error)
    assert c_rec is not None and c_rec.state == "cancelled"
    assert c_rec.depends_on == [b.id] or list(c_rec.depends_on) == [b.id]

    @app.job
    def node(x: Any = None) -> None: ...

    a = node().run_in(1, "hour")
    b = node().run_now(depends_on=[a])
    c = node().run_now(depends_on=[a, b])
    app.cancel(a.id, cascade=True)
    states = [app.get_job(h.id).state for h in (a, b, c)]  # type: ignore[union-attr]
    assert states == ["cancelled"] * 3



def test_a_chain_with_unicode_ids_and_a_nested_group(app: Conveyor) -> None:
    @app.job("çarpma")
    def multiply(x: int, by: int = 2) -> int:
        return x * by

    @app.job("σύνολο")
    def total(xs: list[int]) -> int:
        return sum(xs)

    flow = chain(multiply(3), group(multiply(by=10), multiply(by=-1)), total())
    handle = flow.run_now()
    drain(app)
    assert handle.result(timeout=10) == 60 - 6

    @app.job
    def one(x: int) -> int:
        return x + 1

    c = chain(one(0)).run_now()
    g = group(one(41)).run_now()
    drain(app)
    assert c.result(timeout=10) == 1
    assert g.result(timeout=10) == [42]



def test_run_jobs_of_nothing_and_child_links(app: Conveyor) -> None:
    @app.job
    def child(n: int) -> int:
        return n * n

    @app.job
    async def parent(io: Any) -> Any:
        none = await io.run_jobs("none", [])
        some = await io.run_jobs("some", [child(n) for n in range(-2, 3)])
        return {"none": none, "some": some}

    h = parent().run_now()
    drain(app)
    assert h.result(timeout=10) == {"none": [], "some": [4, 1, 0, 1, 4]}
    rec = app.get_job(h.id)
    assert rec is not None and len(rec.children) == 5
    for child_id in rec.children:
        child_rec = app.get_job(child_id if isinstance(child_id, int) else child_id.id)
        assert child_rec is not None and child_rec.parent_id == h.id


# -- §11 hooks, metrics and logs ----------------------------------------------------------------


def test_hooks_see_each_state_after_it_is_stored(app: Conveyor) -> None:
    calls: list[tuple[str, str, Any]] = []

    for event in ("started", "completed", "failed", "retrying"):
        def hook(record: Any, error: Any = None, event: str = event) -> None:
            stored = app.get_job(record.id)
            calls.append((event, stored.state if stored else "", error))
        app.on(event)(hook)

    @app.job(retry=Retry(retries=1, wait=0))
    def flaky(fail_times: int, meta: Any) -> str:
        if meta.attempt <= fail_times:
            raise ValueError(f"attempt {meta.attempt} ✗")
        return "ok"

    flaky(1).run_now()
    drain(app)
    events = [c[0] for c in calls]
    assert events.count("started") == 2
    assert events.count("retrying") == 1 and events.count("completed") == 1
    assert ("completed", "completed", None) in calls
    calls.clear()
    flaky(5).run_now()
    drain(app)
    failed = [c for c in calls if c[0] == "failed"]
    assert len(failed) == 1 and failed[0][1] == "failed"
    assert "attempt 2 ✗" in str(failed[0][2])


def test_async_and_failing_hooks_never_fail_the_job(app: Conveyor,
                                                    caplog: pytest.LogCaptureFixture) -> None:
    seen: list[Any] = []

    @app.on("completed")
    async def async_hook(record: Any, error: Any = None) -> None:
        await asyncio.sleep(0)
        seen.append(record.result)

    @app.on("completed")
    def broken_hook(record: Any, error: Any = None) -> None:
        raise ZeroDivisionError("hook bug")

    @app.job
    def fine() -> str:
        return "done ✓"

    with caplog.at_level(logging.DEBUG, logger="conveyor"):
        h = fine().run_now()
        drain(app)
    assert h.result(timeout=10) == "done ✓"
    assert seen == ["done ✓"]
    assert "hook bug" in caplog.text


def test_a_cancelled_hook_fires(app: Conveyor) -> None:
    cancelled: list[int] = []

    @app.on("cancelled")
    def hook(record: Any, error: Any = None) -> None:
        cancelled.append(record.id)

    @app.job
    def idle() -> None: ...

    h = idle().run_in(1, "day")
    app.cancel(h.id)
    drain(app)
    assert cancelled == [h.id]


def test_an_unknown_hook_event_is_refused(sqlite_app: Conveyor) -> None:
    with pytest.raises(ValueError):
        sqlite_app.on("finished")


def test_the_worker_logs_each_outcome(app: Conveyor, caplog: pytest.LogCaptureFixture) -> None:
    @app.job(retry=Retry(retries=0))
    def logged(ok: bool) -> None:
        if not ok:
            raise RuntimeError("wrecked ☂")

    with caplog.at_level(logging.DEBUG, logger="conveyor"):
        logged(True).run_now()
        logged(False).run_now()
        drain(app)
    outcomes = [r.getMessage() for r in caplog.records if r.name.startswith("conveyor")]
    assert any("logged" in m and "complet" in m for m in outcomes)
    assert any("wrecked ☂" in m for m in outcomes)


def test_the_lifespan_worker_runs_jobs_in_the_web_process(app: Conveyor) -> None:
    @app.job
    def web_job(x: int) -> int:
        return -x

    web = Starlette(lifespan=app.lifespan(worker=True, concurrency=2))
    with TestClient(web):
        h = web_job(7).run_now()
        assert h.result(timeout=20) == -7


# -- §12 testing helpers ------------------------------------------------------------------------


def test_fake_clock_crosses_a_leap_day_for_a_cron_schedule(app: Conveyor) -> None:
    ran: list[datetime] = []

    @app.job(trigger=app.cron("0 0 29 2 *"))
    def leap() -> None:
        ran.append(datetime.now(UTC))

    with FakeClock(app, start=u(2032, 2, 28, 23, 59, 30)) as clock:
        run_until_idle(app, clock=clock)
        assert ran == []
        clock.advance(1, "minute")
        run_until_idle(app, clock=clock)
        assert len(ran) == 1
        pending = app.jobs_list(job="leap", state="scheduled")
    assert [r.run_at for r in pending] == [u(2036, 2, 29)]


@pytest.mark.parametrize(("n", "unit"), [(-1, "second"), (math.nan, "minutes"),
                                         (math.inf, "hours"), (1, "fortnight")])
def test_fake_clock_refuses_nonsense(sqlite_app: Conveyor, n: float, unit: str) -> None:
    with FakeClock(sqlite_app, start=AFTER) as clock, pytest.raises(ValueError):
        clock.advance(n, unit)


def test_fake_clock_drives_retries(app: Conveyor) -> None:
    attempts: list[int] = []

    @app.job(retry=Retry(retries=2, wait="1 hour", backoff="linear"))
    def slowly(meta: Any) -> str:
        attempts.append(meta.attempt)
        if meta.attempt < 3:
            raise RuntimeError("again")
        return "third time"

    with FakeClock(app, start=AFTER) as clock:
        h = slowly().run_now()
        run_until_idle(app, clock=clock)
        clock.advance(59, "minutes")
        run_until_idle(app, clock=clock)
        assert attempts == [1]
        clock.advance(1, "minute")
        run_until_idle(app, clock=clock)
        assert attempts == [1, 2]
        clock.advance(2, "hours")
        run_until_idle(app, clock=clock)
    assert h.result(timeout=10) == "third time"


def test_inline_fail_is_stored_and_result_raises(app: Conveyor) -> None:
    @app.job
    def refuses(reason: str) -> None:
        raise Fail(reason)

    with inline(app):
        h = refuses("nein ✗").run_now()
    with pytest.raises(JobFailed) as caught:
        h.result(timeout=5)
    assert "nein ✗" in str(caught.value)
    assert app.get_job(h.id).state == "failed"  # type: ignore[union-attr]


def test_enqueued_matches_unicode_and_keyword_payload_subsets(app: Conveyor) -> None:
    @app.job
    def mail(payload: Any) -> None: ...

    mail({"to": "zoë@例え.jp", "n": 0}).run_in(1, "day")
    mail({"to": "bob@example.com", "n": 0}).run_in(1, "day")
    found = enqueued(app, job="mail", to="zoë@例え.jp")
    assert len(found) == 1
    assert len(enqueued(app, job="mail", n=0)) == 2
    assert enqueued(app, job="mail", n=1) == []

    @app.job
    def kw(*, shop: int, tag: str) -> None: ...

    kw(shop=0, tag="ñ").run_in(1, "hour")
    kw(shop=-1, tag="ñ").run_in(1, "hour")
    assert len(enqueued(app, job="kw", tag="ñ")) == 2
    assert len(enqueued(app, job="kw", shop=0)) == 1
    assert app.cancel_jobs(type="kw", data={"shop": -1}) == 1


def test_conveyor_app_fixture_runs_schedules(conveyor_app: Conveyor) -> None:
    @conveyor_app.job(trigger=conveyor_app.every("1 hour"))
    def hourly() -> None: ...

    with FakeClock(conveyor_app, start=AFTER) as clock:
        run_until_idle(conveyor_app, clock=clock)
        clock.advance(1, "hour")
        run_until_idle(conveyor_app, clock=clock)
    states = sorted(r.state for r in conveyor_app.jobs_list(job="hourly"))
    assert states == ["completed", "scheduled"]


# -- second pass: later.js phrasings, process workers, sign-in, filters -------------------------



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


def _items(body: Any) -> list[dict[str, Any]]:
    if isinstance(body, list):
        return body
    return next(v for v in body.values() if isinstance(v, list))


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


# -- third pass: cron corners, app timezones, CLI and API details, graph corners -----------------



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
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=2) as r:
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


# -- fourth pass: midnight that does not exist, abandoned threads, waiting parents --------------


@pytest.mark.parametrize("text", ["every day at midnight", "0 0 * * *"])
def test_a_daily_midnight_survives_a_day_that_starts_at_one(text: str) -> None:
    santiago = ZoneInfo("America/Santiago")  # 2030-09-08 00:00 does not exist there
    times = _next(text, after=u(2030, 9, 6, 12), count=4, tz="America/Santiago")
    assert times == sorted(set(times))
    dates = [t.astimezone(santiago).date() for t in times]
    assert len(set(dates)) == 4
    assert datetime(2030, 9, 9).date() in dates


def test_every_5_hours_restarts_each_local_day_across_fall_back() -> None:
    times = _next("every 5 hours", after=u(2030, 11, 3, 3), count=5, tz="America/New_York")
    assert [t.astimezone(NEW_YORK).hour for t in times] == [0, 5, 10, 15, 20]


def test_a_sync_job_past_its_timeout_is_failed_on_time(app: Conveyor) -> None:
    import threading
    import time

    release = threading.Event()

    @app.job(timeout=0.5, retry=Retry(retries=0))
    def stuck() -> None:
        release.wait(20)

    try:
        h = stuck().run_now()
        started = time.monotonic()
        drain(app)
        assert time.monotonic() - started < 10
        rec = app.get_job(h.id)
        assert rec is not None and rec.state == "failed"
        assert "time" in str(rec.error).lower()
    finally:
        release.set()


def test_a_parent_awaiting_a_held_child_is_waiting(app: Conveyor) -> None:
    @app.job("kind-ü")
    def kid(x: int) -> int:
        return x + 1

    @app.job
    async def parent(io: Any) -> Any:
        return await io.run_job("kid", kid(41))

    app.pause(job="kind-ü")
    h = parent().run_now()
    drain(app)
    rec = app.get_job(h.id)
    assert rec is not None and rec.state == "waiting"
    assert [app.get_job(c if isinstance(c, int) else c.id).state  # type: ignore[union-attr]
            for c in rec.children] == ["queued"]
    app.resume(job="kind-ü")
    drain(app)
    assert h.result(timeout=10) == 42


def test_inline_runs_children_waits_and_dependencies(app: Conveyor) -> None:
    @app.job
    def base(x: int) -> int:
        return x * 3

    @app.job
    async def flow(io: Any) -> Any:
        first = await io.run_job("one", base(2))
        await io.wait("pause", 3, "days")
        return [first, *(await io.run_jobs("many", [base(1), base(-1)]))]

    with inline(app):
        h = flow().run_now()
        assert h.result(timeout=5) == [6, 3, -3]
        dep = base(5).run_now()
        after = base(7).run_now(depends_on=[dep])
        assert after.result(timeout=5) == 21



def test_cli_app_option_after_the_verb_and_before_it(cli_app: Path, monkeypatch: pytest.MonkeyPatch
                                                     ) -> None:
    monkeypatch.delenv("CONVEYOR_APP")
    for args in (("--app", f"{cli_app}:app", "jobs"), ("jobs", "--app", "blind_jobs:app")):
        result = run_cli(*args)
        assert result.exit_code == 0, result.output
        assert "grüße" in result.stdout



# -- fifth pass: redeploys, shutdown, tracing, Flask, owners, sessions --------------------------


def test_redeploying_a_changed_schedule_replaces_its_pending_occurrence(
        open_app: Callable[..., Conveyor]) -> None:
    for text, expected in (("every day", u(2030, 1, 5)), ("every hour", u(2030, 1, 4, 9))):
        deployed = open_app()
        with FakeClock(deployed, start=AFTER) as clock:
            @deployed.job("nightly-ü", trigger=deployed.schedule(text))
            def nightly() -> None: ...

            run_until_idle(deployed, clock=clock)
            pending = deployed.jobs_list(job="nightly-ü", state="scheduled")
        assert [r.run_at for r in pending] == [expected], text


def test_sigterm_releases_a_job_that_outlives_the_grace(cli_app: Path, url: str) -> None:
    import signal
    import time

    slow = cli_app.parent / "slow_jobs.py"
    slow.write_text(APP_SOURCE + textwrap.dedent("""
        @app.job("lent-ü")
        def lent():
            import time
            time.sleep(60)
    """))
    run_id = _run_id(run_cli("run", "lent-ü", "--app", f"{slow}:app"))
    worker = subprocess.Popen(
        [sys.executable, "-m", "conveyor", "worker", f"{slow}:app", "--grace", "0.5"],
        cwd=cli_app.parent, env=_env(), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    with Conveyor(url) as reader:
        deadline = time.monotonic() + 30
        while reader.get_job(run_id).state != "running":  # type: ignore[union-attr]
            assert time.monotonic() < deadline and worker.poll() is None
            time.sleep(0.1)
        worker.send_signal(signal.SIGTERM)
        assert worker.wait(timeout=20) == 0, worker.stderr.read() if worker.stderr else ""
        rec = reader.get_job(run_id)
    assert rec is not None and rec.state in ("queued", "scheduled"), rec


def test_traces_link_the_trigger_and_the_attempt(app: Conveyor) -> None:
    from opentelemetry import trace
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

    provider = trace.get_tracer_provider()
    if not isinstance(provider, TracerProvider):
        provider = TracerProvider()
        trace.set_tracer_provider(provider)
        provider = trace.get_tracer_provider()
    assert isinstance(provider, TracerProvider)
    exporter = InMemorySpanExporter()
    provider.add_span_processor(SimpleSpanProcessor(exporter))

    @app.job
    def traced() -> None: ...

    with provider.get_tracer("blind").start_as_current_span("outer") as outer:
        traced().run_now()
    drain(app)
    trace_id = outer.get_span_context().trace_id
    mine = [s for s in exporter.get_finished_spans()
            if s.context is not None and s.context.trace_id == trace_id and s.name != "outer"]
    assert len(mine) >= 2, [s.name for s in exporter.get_finished_spans()]


def test_flask_gets_the_cli_verbs(app: Conveyor) -> None:
    from flask import Flask

    from conveyor.contrib.flask import init_app

    @app.job("flask-ü")
    def in_flask() -> None: ...

    web = Flask("blind")
    init_app(web, app)
    result = web.test_cli_runner().invoke(args=["conveyor", "jobs"])
    assert result.exit_code == 0, result.output
    assert "flask-ü" in result.output



def test_the_cancelled_hook_reports_dependents_the_graph_cancels(app: Conveyor) -> None:
    cancelled: list[int] = []

    @app.on("cancelled")
    def hook(record: Any, error: Any = None) -> None:
        assert record.state == "cancelled"
        cancelled.append(record.id)

    @app.job(retry=Retry(retries=0))
    def broken() -> None:
        raise Fail("no ✗")

    @app.job
    def below(x: Any = None) -> None: ...

    root = broken().run_now()
    chain_ = [below().run_now(depends_on=[root])]
    chain_.append(below().run_now(depends_on=chain_))
    drain(app)
    assert sorted(cancelled) == [h.id for h in chain_]  # by the worker that failed root
    cancelled.clear()
    top = below().run_in(1, "day")
    under = below().run_now(depends_on=[top])
    app.cancel(top.id, cascade=True)
    drain(app)
    assert sorted(cancelled) == [top.id, under.id]  # by the canceller


def test_the_cancelled_hook_reports_child_runs_a_cascade_cancels(app: Conveyor) -> None:
    cancelled: list[int] = []

    @app.on("cancelled")
    def hook(record: Any, error: Any = None) -> None:
        cancelled.append(record.id)

    @app.job("enfant-ü")
    def child(x: int) -> int:
        return x

    @app.job
    async def parent(io: Any) -> Any:
        return await io.run_jobs("kids", [child(1), child(2)])

    app.pause(job="enfant-ü")
    top = parent().run_now()
    drain(app)
    kids = app.get_job(top.id).children  # type: ignore[union-attr]
    app.cancel(top.id, cascade=True)
    drain(app)
    assert sorted(cancelled) == sorted([top.id, *kids])


def test_the_cancelled_hook_reports_a_dependent_cancelled_as_it_is_triggered(
        app: Conveyor) -> None:
    cancelled: list[int] = []

    @app.on("cancelled")
    def hook(record: Any, error: Any = None) -> None:
        cancelled.append(record.id)

    @app.job(retry=Retry(retries=0))
    def gone() -> None:
        raise Fail("gone ✗")

    @app.job
    def late(x: Any = None) -> None: ...

    failed = gone().run_now()
    drain(app)
    dependent = late().run_now(depends_on=[failed])
    drain(app)
    assert cancelled == [dependent.id]
