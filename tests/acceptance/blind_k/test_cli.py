"""Blind tests of SPEC §7's CLI verbs and options, with §5/§6 as the CLI shows them."""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from conveyor import Conveyor
from tests.acceptance.blind_surface.support import _run_id, assert_user_error, run_cli


def lines(*args: str) -> list[dict[str, Any]]:
    result = run_cli(*args, "--json")
    assert result.exit_code == 0, result.output
    return [json.loads(line) for line in result.stdout.splitlines() if line.strip()]


def assert_utc(value: str) -> None:
    parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    assert parsed.utcoffset() == timedelta(), value


def test_a_burst_worker_stores_the_schedule_the_cli_then_lists(kapp: Path, url: str) -> None:
    assert lines("schedules") == []  # read-only verbs store no schedule
    result = run_cli("worker", str(kapp), "--burst", "--queues", "default")
    assert result.exit_code == 0, result.output
    (schedule,) = lines("schedules")
    values = [v for k, v in schedule.items() if k.endswith("_at") and v]
    assert values, schedule
    for value in values:
        assert_utc(value)
    runs = lines("runs", "--state", "scheduled")
    assert [r.get("job") for r in runs] == ["tick"]
    minute = datetime.fromisoformat(runs[0]["run_at"].replace("Z", "+00:00")).minute
    assert minute % 15 == 0
    jobs = {j.get("id"): j for j in lines("jobs")}
    assert set(jobs) >= {"tick", "<b>evil</b>", "boom", "durable"}


def test_show_many_ids_as_json_and_an_unknown_one(kapp: Path, url: str) -> None:
    first = _run_id(run_cli("run", "durable", "--payload", '{"n": 21}'))
    second = _run_id(run_cli("run", "boom", "--payload", '"x"'))
    assert run_cli("worker", str(kapp), "--burst").exit_code == 0
    shown = lines("show", str(first), str(second))
    assert [s["id"] for s in shown] == [first, second]
    assert shown[0]["state"] == "completed" and shown[0]["result"] == {"value": 42}
    assert shown[1]["state"] == "failed"
    assert "boom <i>" in json.dumps(shown[1])
    for row in shown:
        for key, value in row.items():
            if key.endswith("_at") and isinstance(value, str):
                assert_utc(value)
    assert_user_error(run_cli("show", str(first), "99999999"), "99999999")
    text = run_cli("show", str(second))
    assert text.exit_code == 0 and "boom" in text.stdout


def test_purge_options(kapp: Path, url: str) -> None:
    done = _run_id(run_cli("run", "<b>evil</b>", "--payload", "1"))
    failed = _run_id(run_cli("run", "boom"))
    assert run_cli("worker", str(kapp), "--burst").exit_code == 0
    assert run_cli("purge", "--older-than", "7 days").exit_code == 0
    assert run_cli("purge", "--state", "failed").exit_code == 0
    with Conveyor(url) as reader:
        assert reader.get_job(failed) is None
        assert reader.get_job(done) is not None
    assert run_cli("purge").exit_code == 0
    with Conveyor(url) as reader:
        assert reader.get_job(done) is None


@pytest.mark.parametrize(
    "args",
    [
        ("worker", "--concurrency", "abc"),
        ("worker", "--concurrency", "-1"),
        ("worker", "--log-format", "xml"),
        ("worker", "--metrics-port", "0"),
        ("worker", "--metrics-port", "70000"),
        ("worker", "--grace", "-1"),
        ("runs", "--state", "bogus"),
        ("runs", "--limit", "0"),
        ("run", "durable", "--priority", "urgent"),
        ("run", "durable", "--payload", "1", "--args", "[1]"),
        ("run", "durable", "--args", '{"a": 1}'),
        ("run", "durable", "--kwargs", "[1]"),
        ("run", "durable", "--in", "30 seconds", "--at", "2030-01-01T00:00:00+00:00"),
        ("run", "durable", "--at", "tomorrow"),
        ("run", "durable", "--in", "nan seconds"),
        ("run", "durable", "--in", "seconds"),
        ("purge", "--older-than", "5 fortnights"),
        ("purge", "--state", "running"),
        ("schedules", "--pause", "no-such-schedule"),
        ("schedules", "--remove", "no-such-schedule"),
        ("show", "abc"),
        ("cancel", "abc"),
        ("retry", "123456789"),
        ("pause",),
    ],
)
def test_odd_arguments_are_one_line_errors(kapp: Path, url: str, args: tuple[str, ...]) -> None:
    if args[0] == "worker":
        args = (args[0], str(kapp), "--burst", *args[1:])
    assert_user_error(run_cli(*args))
    with Conveyor(url) as reader:
        assert reader.jobs_list() == []


def test_cancelling_one_occurrence_never_doubles_the_schedule(kapp: Path, url: str) -> None:
    assert run_cli("worker", str(kapp), "--burst").exit_code == 0
    (occurrence,) = lines("runs", "--state", "scheduled")
    assert run_cli("cancel", str(occurrence["id"])).exit_code == 0
    for _ in range(2):
        assert run_cli("worker", str(kapp), "--burst").exit_code == 0
        assert len(lines("runs", "--state", "scheduled")) <= 1
        assert len(lines("schedules")) == 1
    (row,) = lines("show", str(occurrence["id"]))
    assert row["state"] == "cancelled"


def test_run_at_is_read_in_the_apps_timezone_and_owner_digits(kapp: Path, url: str) -> None:
    run_id = _run_id(
        run_cli(
            "run",
            "<b>evil</b>",
            "--at",
            "2031-06-01T09:30",
            "--owner",
            "42",
            "--priority",
            "high",
            "--queue",
            "q2",
        )
    )
    (row,) = lines("show", str(run_id))
    assert row["run_at"].startswith("2031-06-01T09:30")
    assert_utc(row["run_at"])
    assert row["owner"] == 42 and row["queue"] == "q2"
    assert [r["id"] for r in lines("runs", "--owner", "42")] == [run_id]
    assert lines("runs", "--owner", "7") == []


def test_unique_and_replace_from_the_cli(kapp: Path, url: str) -> None:
    first = _run_id(run_cli("run", "tick", "--in", "1 day", "--key", "k", "--unique"))
    again = _run_id(run_cli("run", "tick", "--in", "1 day", "--key", "k", "--unique"))
    assert again == first
    third = _run_id(run_cli("run", "tick", "--in", "1 day", "--key", "k", "--replace"))
    assert third != first
    states = {r["id"]: r["state"] for r in lines("runs", "--job", "tick")}
    assert states == {first: "cancelled", third: "scheduled"}
