"""Each verb on a real SQLite file, in-process with click's CliRunner."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

from click.testing import CliRunner

from conveyor import Conveyor
from conveyor.cli import main
from tests.cli.conftest import Invoke


def stored(db_url: str, job_id: int) -> dict[str, object]:
    with Conveyor(db_url) as app:
        record = app.get_job(job_id)
        assert record is not None
        return {"job": record.job, "args": record.args, "kwargs": record.kwargs,
                "state": record.state, "queue": record.queue, "priority": record.priority,
                "key": record.key, "owner": record.owner, "run_at": record.run_at,
                "created_at": record.created_at}


def burst(invoke: Invoke) -> None:
    result = invoke("worker", "--burst", "--concurrency", "2")
    assert result.exit_code == 0, result.output


def test_run_prints_the_new_job_id_and_stores_the_payload(invoke: Invoke, db_url: str) -> None:
    result = invoke("run", "greet", "--payload", '{"name": "ada"}')
    assert result.exit_code == 0, result.output
    job_id = int(result.stdout.strip())
    assert stored(db_url, job_id)["args"] == [{"name": "ada"}]


def test_run_takes_args_and_kwargs(invoke: Invoke, db_url: str) -> None:
    first = int(invoke("run", "add", "--args", "[1, 2]").stdout)
    second = int(invoke("run", "add", "--args", "[1]", "--kwargs", '{"b": 5}').stdout)
    assert stored(db_url, first)["args"] == [1, 2]
    assert stored(db_url, second)["kwargs"] == {"b": 5}
    burst(invoke)
    with Conveyor(db_url) as app:
        assert app.jobs_list(state="completed", limit=5)
        assert {r.result for r in app.jobs_list(limit=5)} == {3, 6}


def test_run_in_and_at_schedule_for_later(invoke: Invoke, db_url: str) -> None:
    later = int(invoke("run", "add", "--args", "[1, 2]", "--in", "2 hours").stdout)
    row = stored(db_url, later)
    assert row["state"] == "scheduled"
    delay = row["run_at"] - row["created_at"]  # type: ignore[operator]
    assert timedelta(hours=2) - timedelta(seconds=5) < delay <= timedelta(hours=2, seconds=1)
    month = int(invoke("run", "add", "--args", "[1, 2]", "--in", "1 month").stdout)
    assert stored(db_url, month)["run_at"] > datetime.now(UTC) + timedelta(days=27)  # type: ignore[operator]
    at = int(invoke("run", "add", "--args", "[1, 2]", "--at", "2031-01-02T03:04:05").stdout)
    assert stored(db_url, at)["run_at"] == datetime(2031, 1, 2, 3, 4, 5, tzinfo=UTC)


def test_run_options_reach_the_stored_job(invoke: Invoke, db_url: str) -> None:
    result = invoke("run", "add", "--args", "[1, 2]", "--queue", "bulk", "--priority", "high",
                    "--key", "k1", "--owner", "42")
    row = stored(db_url, int(result.stdout))
    assert (row["queue"], row["priority"], row["key"], row["owner"]) == ("bulk", 10, "k1", 42)
    assert row["priority"] == "high"
    texts = invoke("run", "add", "--args", "[1, 2]", "--owner", "u-7")
    assert stored(db_url, int(texts.stdout))["owner"] == "u-7"
    numeric = invoke("run", "add", "--args", "[1, 2]", "--priority", "-3")
    assert stored(db_url, int(numeric.stdout))["priority"] == -3


def test_run_unique_returns_the_pending_job(invoke: Invoke) -> None:
    first = invoke("run", "add", "--args", "[1, 2]", "--key", "k", "--unique").stdout
    again = invoke("run", "add", "--args", "[3, 4]", "--key", "k", "--unique").stdout
    assert first == again


def test_jobs_lists_definitions(invoke: Invoke) -> None:
    invoke("migrate")
    result = invoke("jobs")
    assert result.exit_code == 0
    lines = result.stdout.splitlines()
    assert lines[0].split() == ["ID", "NAME", "VERSION", "QUEUE", "PRIORITY", "RETRY", "TRIGGER"]
    greet = next(line for line in lines if line.startswith("greet"))
    for text in ("Greeter", "1.2.0", "mail", "3 × exponential from 1m"):
        assert text in greet


def test_jobs_json_prints_one_definition_per_line(invoke: Invoke) -> None:
    invoke("migrate")
    result = invoke("jobs", "--json")
    assert result.exit_code == 0, result.output
    rows = [json.loads(line) for line in result.stdout.splitlines()]
    assert [r["id"] for r in rows] == ["add", "greet", "broken"]
    greet = rows[1]
    assert (greet["name"], greet["version"], greet["queue"], greet["trigger"],
            greet["next"]) == ("Greeter", "1.2.0", "mail", None, None)


def test_jobs_json_gives_a_scheduled_jobs_next_fire_time_in_utc(tmp_path: Path) -> None:
    path = tmp_path / "tickapp.py"
    path.write_text("from conveyor import Conveyor\napp = Conveyor(timezone='Asia/Tokyo')\n"
                    "@app.job(trigger=app.cron('30 9 * * *', tz='Asia/Tokyo'))\n"
                    "def tick():\n    return 1\n")
    env = {"CONVEYOR_APP": str(path), "CONVEYOR_URL": f"sqlite:///{tmp_path}/t.db"}
    runner = CliRunner()
    assert runner.invoke(main, ["schedules", "sync"], env=env).exit_code == 0
    row = json.loads(runner.invoke(main, ["jobs", "--json"], env=env).stdout)
    assert row["id"] == "tick" and row["paused"] is False
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT00:30:00\+00:00", row["next"])  # 09:30 in Tokyo


def test_runs_filters_by_state_and_job(invoke: Invoke) -> None:
    invoke("run", "add", "--args", "[1, 2]")
    invoke("run", "broken")
    burst(invoke)
    failed = invoke("runs", "--state", "failed").stdout
    assert "broken" in failed and "Fail: broken on purpose" in failed and "add" not in failed
    by_job = invoke("runs", "--job", "add").stdout
    assert "completed" in by_job and "broken" not in by_job
    assert invoke("runs", "--state", "waiting").stdout.strip() == "no runs match"


def test_runs_limit_and_json(invoke: Invoke) -> None:
    for n in range(3):
        invoke("run", "add", "--args", f"[{n}, 1]")
    out = invoke("runs", "--limit", "2", "--json").stdout
    rows = [json.loads(line) for line in out.splitlines()]
    assert [r["args"][0] for r in rows] == [2, 1]


def test_show_prints_fields_history_tracebacks_and_logs(invoke: Invoke) -> None:
    ok = invoke("run", "greet", "--payload", '{"name": "ada"}').stdout.strip()
    bad = invoke("run", "broken").stdout.strip()
    burst(invoke)
    result = invoke("show", ok, bad)
    assert result.exit_code == 0, result.output
    out = result.stdout
    for field in ("created_at", "max_attempts", "rescheduled_from", "version", "payload"):
        assert field in out
    assert '"hello ada"' in out and "greeting ada" in out
    assert "attempt 1:" in out and "Traceback (most recent call last)" in out
    assert "raise Fail" in out and "about to fail" in out


def test_show_json_has_every_record_field(invoke: Invoke) -> None:
    job_id = invoke("run", "add", "--args", "[1, 2]").stdout.strip()
    data = json.loads(invoke("show", "--json", job_id).stdout)
    assert data["id"] == int(job_id) and data["state"] == "queued" and data["history"] == []


def test_cancel_and_retry_act_on_each_id(invoke: Invoke) -> None:
    first = invoke("run", "add", "--args", "[1, 2]", "--in", "1 hour").stdout.strip()
    second = invoke("run", "add", "--args", "[1, 2]", "--in", "1 hour").stdout.strip()
    result = invoke("cancel", first, second)
    assert result.exit_code == 0
    assert result.stdout.splitlines() == [f"cancelled {first}", f"cancelled {second}"]
    retried = invoke("retry", first)
    assert retried.stdout.strip() == f"retried {first}"
    assert "queued" in invoke("show", first).stdout.splitlines()[0]


def test_cancel_of_many_ids_reports_each_once_a_repeat_as_already_cancelled(
    invoke: Invoke,
) -> None:
    ids = [invoke("run", "add", "--args", "[1, 2]", "--in", "1 hour").stdout.strip()
           for _ in range(3)]
    result = invoke("cancel", *ids, "999999", ids[0])
    assert result.exit_code == 2
    assert result.stdout.splitlines() == [f"cancelled {i}" for i in ids]
    assert result.stderr.splitlines() == [
        "error: no job with id 999999",
        f"error: job {ids[0]} is cancelled; only scheduled, queued, blocked, running or "
        "waiting jobs can be cancelled",
    ]


def test_retry_of_many_ids_retries_the_finished_ones_in_one_go(invoke: Invoke) -> None:
    ids = [invoke("run", "add", "--args", "[1, 2]", "--in", "1 hour").stdout.strip()
           for _ in range(3)]
    invoke("cancel", *ids[:2])
    result = invoke("retry", ids[1], ids[2], ids[0], "999999", ids[1])
    assert result.exit_code == 2
    assert result.stdout.splitlines() == [f"retried {ids[1]}", f"retried {ids[0]}"]
    assert result.stderr.splitlines() == [
        f"error: job {ids[2]} is scheduled; only completed, failed or cancelled jobs can be "
        "retried",
        "error: no job with id 999999",
        f"error: job {ids[1]} is queued; only completed, failed or cancelled jobs can be "
        "retried",
    ]


def test_cancel_of_a_finished_job_says_why(invoke: Invoke) -> None:
    job_id = invoke("run", "add", "--args", "[1, 2]").stdout.strip()
    burst(invoke)
    result = invoke("cancel", job_id)
    assert result.exit_code == 2
    assert result.stderr.strip() == (
        f"error: job {job_id} is completed; only scheduled, queued, blocked, running or "
        "waiting jobs can be cancelled"
    )
    queued = invoke("run", "add", "--args", "[1, 2]").stdout.strip()
    refused = invoke("retry", queued)
    assert refused.exit_code == 2
    assert f"error: job {queued} is queued; only completed, failed or cancelled" in refused.stderr


def test_purge_deletes_finished_runs_only(invoke: Invoke, db_url: str) -> None:
    invoke("run", "add", "--args", "[1, 2]")
    invoke("run", "broken")
    pending = invoke("run", "add", "--args", "[1, 2]", "--in", "1 hour").stdout.strip()
    burst(invoke)
    assert invoke("purge", "--state", "failed").stdout.strip() == "purged 1 run"
    assert invoke("purge", "--older-than", "7 days").stdout.strip() == "purged 0 runs"
    assert invoke("purge", "--all").stdout.strip() == "purged 1 run"
    assert invoke("purge", "--expired").stdout.strip() == "purged 0 runs"
    with Conveyor(db_url) as app:
        assert [r.id for r in app.jobs_list()] == [int(pending)]


def test_migrate_reports_applied_then_up_to_date(invoke: Invoke) -> None:
    first = invoke("migrate")
    assert first.exit_code == 0
    assert first.stdout.startswith("applied 0001_")
    assert invoke("migrate").stdout.strip() == "up to date"


def test_migrate_takes_a_store_url_without_an_app(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/alone.db"
    runner = CliRunner()
    env = {"CONVEYOR_APP": None, "CONVEYOR_URL": None}
    first = runner.invoke(main, ["migrate", "--url", url], env=env)
    assert first.exit_code == 0, first.output
    assert first.stdout.startswith("applied 0001_")
    again = runner.invoke(main, ["migrate"], env={**env, "CONVEYOR_URL": url})
    assert again.stdout.strip() == "up to date"
    alone = runner.invoke(main, ["migrate"], env=env)
    assert alone.exit_code == 2 and "--url URL" in alone.output


def test_retry_of_a_job_whose_dependency_was_cancelled_names_the_run_to_retry_first(
    invoke: Invoke, db_url: str
) -> None:
    first = invoke("run", "add", "--args", "[1, 2]", "--in", "1 hour").stdout.strip()
    with Conveyor(db_url) as app:
        @app.job
        def add(a: int, b: int) -> int:
            return a + b

        then = add(3, 4).run_now(depends_on=[int(first)]).id
    invoke("cancel", first)  # `then` is cancelled with it
    result = invoke("retry", str(then))
    assert result.exit_code == 2
    assert result.stderr.strip() == (
        f"error: run {then} (add) cannot be retried: run {first} (add), which it depends "
        f"on, cancelled; retry run {first} first (the runs cancelled because of it run "
        "again when it completes)")
    assert invoke("retry", first).stdout.strip() == f"retried {first}"
    assert "blocked" in invoke("show", str(then)).stdout.splitlines()[0]
