"""SPEC §7 CLI verbs with unicode ids and queues, a non-UTC app timezone, every --json
output in ISO 8601 UTC, and user errors as one line with a non-zero exit."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from conveyor import Conveyor
from tests.support import datetime_strings

from .conftest import Cli, one_error_line


def _json_lines(text: str) -> list[dict]:
    return [json.loads(line) for line in text.splitlines() if line.strip()]


def _assert_utc_iso(value: str) -> datetime:
    parsed = datetime.fromisoformat(value)
    assert parsed.utcoffset() == timedelta(0), value
    return parsed


def test_run_a_unicode_job_id_and_show_it_back(cli: Cli) -> None:
    migrated = cli("migrate")
    assert migrated.exit_code == 0, migrated.output
    result = cli("run", "ünï job", "--payload", '{"ñ": "✓", "n": 0}')
    assert result.exit_code == 0, result.output
    run_id = result.stdout.strip().splitlines()[-1]

    [shown] = _json_lines(cli("show", run_id, "--json").stdout)

    assert shown["job"] == "ünï job" and shown["queue"] == "éxports 📦"
    assert shown["args"] == [{"ñ": "✓", "n": 0}] and shown["state"] == "queued"


def test_at_without_an_offset_is_the_app_timezone_and_json_is_utc(cli: Cli) -> None:
    cli("migrate")
    result = cli("run", "add", "--args", "[1, 2]", "--at", "2027-03-01T10:00")
    assert result.exit_code == 0, result.output

    [row] = _json_lines(cli("runs", "--json").stdout)

    # 10:00 in Asia/Kolkata (UTC+05:30) is 04:30 UTC
    assert _assert_utc_iso(row["run_at"]) == datetime(2027, 3, 1, 4, 30, tzinfo=UTC)
    for field in ("created_at",):
        _assert_utc_iso(row[field])


@pytest.mark.parametrize("delay, seconds", [("0 seconds", 0), ("1.5 hours", 5400),
                                            ("2 weeks", 14 * 86400)])
def test_in_accepts_zero_and_fractions(cli: Cli, delay: str, seconds: float) -> None:
    cli("migrate")
    before = datetime.now(UTC)
    result = cli("run", "add", "--kwargs", '{"a": 1}', "--in", delay)
    assert result.exit_code == 0, result.output

    [row] = _json_lines(cli("runs", "--json").stdout)

    due = _assert_utc_iso(row["run_at"]) - before
    assert timedelta(seconds=seconds) - timedelta(seconds=5) <= due
    assert due <= timedelta(seconds=seconds) + timedelta(seconds=60)
    assert row["kwargs"] == {"a": 1}


def test_every_json_output_writes_utc_datetimes(cli: Cli) -> None:
    cli("migrate")
    cli("run", "ünï job", "--payload", "null", "--at", "2027-01-01T00:00")
    finished = cli("worker", "--burst")
    assert finished.exit_code == 0, finished.output
    cli("run", "broken", "--args", "[]")
    cli("worker", "--burst")

    for verb in (["runs", "--json"], ["show", "1", "2", "--json"], ["queues", "--json"],
                 ["jobs", "--json"], ["schedules", "--json"]):
        result = cli(*verb)
        assert result.exit_code == 0, (verb, result.output)
        for row in _json_lines(result.stdout):
            for value in datetime_strings(row):
                _assert_utc_iso(value)
    [failed] = _json_lines(cli("runs", "--state", "failed", "--json").stdout)
    assert failed["job"] == "broken" and "nope ✗" in failed["error"]["message"]
    for attempt in failed["history"]:
        _assert_utc_iso(attempt["started_at"]) and _assert_utc_iso(attempt["finished_at"])


@pytest.mark.parametrize("args, words", [
    (["run", "nope", "--payload", "1"], ["nope", "ünï job"]),
    (["run", "add", "--payload", "{oops"], ["--payload", "JSON"]),
    (["run", "add", "--args", '{"a": 1}'], ["--args", "list"]),
    (["run", "add", "--kwargs", "[1]"], ["--kwargs", "object"]),
    (["run", "add", "--args", "[1]", "--in", "-1 seconds"], ["--in", "accepted"]),
    (["run", "add", "--args", "[1]", "--in", "3 fortnights"], ["fortnights", "second"]),
    (["run", "add", "--args", "[1]", "--at", "someday"], ["--at", "ISO"]),
    (["run", "add", "--args", "[1]", "--in", "1 second", "--at", "2027-01-01"], ["--in"]),
    (["run", "add", "--payload", '"\\u0000"'], ["NUL"]),
    (["runs", "--state", "done"], ["done", "completed"]),
    (["show", "0"], ["0"]),
    (["show", "abc"], ["abc"]),
    (["show", "424242"], ["424242"]),
    (["pause"], ["--queue", "--job"]),
    (["pause", "--job", "nope"], ["nope"]),
    (["worker", "--burst", "--concurrency", "0"], ["concurrency"]),
    (["worker", "--burst", "--queues", ","], ["--queues"]),
])
def test_user_errors_are_one_line_naming_the_problem(cli: Cli, args: list[str],
                                                      words: list[str]) -> None:
    cli("migrate")
    line = one_error_line(cli(*args))
    for word in words:
        assert word in line, line


def test_url_overrides_the_apps_store(cli: Cli, url: str, tmp_path) -> None:
    other = f"sqlite:///{tmp_path}/other.db"
    assert cli("--url", other, "migrate").exit_code == 0
    assert cli("--url", other, "run", "add", "--args", "[2, 3]").exit_code == 0

    assert len(_json_lines(cli("--url", other, "runs", "--json").stdout)) == 1
    with Conveyor(url) as own:
        assert own.count() == 0


def test_pause_and_resume_a_unicode_queue_from_the_cli(cli: Cli, url: str) -> None:
    cli("migrate")
    assert cli("pause", "--queue", "éxports 📦").exit_code == 0
    cli("run", "ünï job", "--payload", "1")
    cli("worker", "--burst")

    [queue] = [q for q in _json_lines(cli("queues", "--json").stdout)
               if q["name"] == "éxports 📦"]
    assert queue["paused"] is True and queue["counts"] == {"queued": 1}
    assert cli("resume", "--queue", "éxports 📦").exit_code == 0
    assert cli("worker", "--burst").exit_code == 0
    with Conveyor(url) as own:
        assert own.count(state="completed") == 1


def test_cancel_and_retry_take_several_ids(cli: Cli) -> None:
    cli("migrate")
    ids = [cli("run", "add", "--args", f"[{n}]", "--in", "1 day").stdout.split()[-1]
           for n in range(3)]

    assert cli("cancel", *ids).exit_code == 0
    states = {row["id"]: row["state"] for row in _json_lines(cli("runs", "--json").stdout)}
    assert set(states.values()) == {"cancelled"}
    assert cli("retry", *ids).exit_code == 0
    assert cli("worker", "--burst").exit_code == 0
    results = sorted(row["result"] for row in _json_lines(cli("runs", "--json").stdout))
    assert results == [0, 1, 2]


def test_human_output_shows_unicode_values_as_typed(cli: Cli) -> None:
    cli("migrate")
    cli("run", "ünï job", "--payload", '{"café": "☕ ✓"}')
    assert cli("worker", "--burst").exit_code == 0

    table, shown = cli("runs").stdout, cli("show", "1").stdout

    assert '{"café": "☕ ✓"}' in table and "\\u" not in table
    assert '{"café": "☕ ✓"}' in shown and "\\u" not in shown


@pytest.mark.parametrize("attr, words", [("", None), (":app", None), (":holder.app", None),
                                         (":notapp", "is an int"), (":nope", "nope")])
def test_app_as_module_attr_is_imported_from_the_current_directory(
        tmp_path: Path, url: str, monkeypatch: pytest.MonkeyPatch, attr: str,
        words: str | None) -> None:
    import sys

    from click.testing import CliRunner

    from conveyor.cli import main

    module = f"audit_b_jobs_{abs(hash((str(tmp_path), attr)))}"
    (tmp_path / f"{module}.py").write_text(
        "from conveyor import Conveyor\napp = Conveyor()\nnotapp = 5\n"
        "class Holder: pass\nholder = Holder()\nholder.app = app\n"
        "@app.job('hëllo')\ndef hello():\n    return 'hi'\n")
    Conveyor(url).close()  # the store exists: jobs is read-only
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(sys, "path", list(sys.path))
    monkeypatch.setattr(sys, "modules", dict(sys.modules))
    result = CliRunner().invoke(main, ["--app", module + attr, "--url", url, "jobs", "--json"],
                                env={"CONVEYOR_APP": None, "CONVEYOR_URL": None})

    if words is None:
        assert result.exit_code == 0, result.output
        assert [row["id"] for row in _json_lines(result.stdout)] == ["hëllo"]
    else:
        assert words in one_error_line(result)


def test_jobs_shows_the_next_fire_time_before_and_after_a_worker_stores_it(
        tmp_path: Path, url: str) -> None:
    from click.testing import CliRunner

    from conveyor.cli import main

    path = tmp_path / "scheduled.py"
    path.write_text("from conveyor import Conveyor\napp = Conveyor(timezone='Asia/Kolkata')\n"
                    "@app.job('dáily', trigger=app.schedule('every day at 9:30 am'))\n"
                    "def daily():\n    return 1\n")
    env = {"CONVEYOR_APP": str(path), "CONVEYOR_URL": url}

    def jobs_next() -> str:
        result = CliRunner().invoke(main, ["jobs", "--json"], env=env)
        assert result.exit_code == 0, result.output
        [row] = _json_lines(result.stdout)
        return str(row["next"])

    assert CliRunner().invoke(main, ["migrate"], env=env).exit_code == 0
    before = jobs_next()
    assert CliRunner().invoke(main, ["worker", "--burst"], env=env).exit_code == 0

    assert jobs_next() == before
    due = _assert_utc_iso(before)
    assert (due.hour, due.minute) == (4, 0)  # 09:30 in Asia/Kolkata


def test_runs_prints_a_multi_line_error_on_the_runs_own_line(cli: Cli) -> None:
    cli("migrate")
    cli("run", "two_lines", "--args", "[]")
    assert cli("worker", "--burst").exit_code == 0

    lines = cli("runs").stdout.splitlines()

    [row] = [line for line in lines if "two_lines" in line]
    assert "first line second ✗ line" in row
    assert not any(line.strip().startswith("second") for line in lines)
    [shown] = _json_lines(cli("show", "1", "--json").stdout)
    assert shown["error"]["message"] == "first line\nsecond ✗ line"


def test_version_matches_the_package(cli: Cli) -> None:
    import conveyor

    result = cli("--version")

    assert result.exit_code == 0
    assert result.stdout.strip() == f"conveyor {conveyor.__version__}"
    assert conveyor.__version__[0].isdigit()
