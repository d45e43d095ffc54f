"""SPEC §7 and §9: every CLI verb and flag SPEC names, through click's runner, on SQLite
and PostgreSQL; user errors (hostile payloads included, §8) are one line on stderr."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest

from tests.acceptance.blind_m.support import is_iso_utc, run_id_of
from tests.acceptance.blind_p.support import json_lines, run_cli
from tests.acceptance.blind_surface.support import assert_user_error

VERBS_AND_FLAGS = {
    "worker": ["--concurrency", "--queues", "--burst", "--metrics-port", "--log-format"],
    "dashboard": ["--host", "--port"],
    "run": ["--payload", "--in", "--at", "--kwargs", "--args"],
    "jobs": [], "runs": ["--state"], "show": [], "cancel": [], "retry": [], "purge": [],
    "schedules": [], "migrate": [], "pause": ["--queue", "--job"],
    "resume": ["--queue", "--job"], "queues": [],
}


@pytest.mark.parametrize("verb", sorted(VERBS_AND_FLAGS))
def test_help_of_every_verb_names_its_flags(verb: str) -> None:
    result = run_cli(verb, "--help")
    assert result.exit_code == 0, result.output
    assert "Traceback" not in result.output
    for flag in [*VERBS_AND_FLAGS[verb], "--app", "--url"]:
        assert flag in result.stdout, (verb, flag)


def test_top_level_help_lists_every_verb() -> None:
    result = run_cli("--help")
    assert result.exit_code == 0
    for verb in VERBS_AND_FLAGS:
        assert verb in result.stdout, verb


@pytest.mark.parametrize("args", [
    ["runs", "--no-such-flag"],
    ["no-such-verb"],
    ["show"],
    ["run"],
])
def test_usage_mistakes_are_one_line(args: list[str]) -> None:
    assert_user_error(run_cli(*args))


HOSTILE_PAYLOADS = {
    "nan": '{"a": NaN}',
    "infinity": '{"a": [1, Infinity]}',
    "lone surrogate": '{"a": "\\ud800"}',
    "nul": '{"a": "x\\u0000y"}',
    "nul in a key": '{"a\\u0000": 1}',
    "too deep": "[" * 70 + "]" * 70,
    "too big": json.dumps({"blob": "x" * (1024 * 1024 + 10)}),
    "not json": "{'a': 1}",
}


def test_hostile_payloads_are_one_line_and_store_nothing(cli_app: str) -> None:
    for payload in HOSTILE_PAYLOADS.values():
        assert_user_error(run_cli("run", "echo", "--payload", payload))
    assert json_lines(run_cli("runs", "--json", "--job", "echo").stdout) == []


BAD_RUN_OPTIONS = [
    ["--kwargs", "[1, 2]"],
    ["--args", '{"a": 1}'],
    ["--in", "30 parsecs"],
    ["--in", "-5 seconds"],
    ["--at", "the day after tomorrow"],
    ["--priority", "urgent"],
]


def test_bad_run_options_are_one_line(cli_app: str) -> None:
    for options in BAD_RUN_OPTIONS:
        assert_user_error(run_cli("run", "echo", *options))


def test_run_payload_args_kwargs_and_a_burst_worker(cli_app: str) -> None:
    by_payload = run_id_of(run_cli("run", "echo", "--payload", '{"url": "https://x"}'))
    by_args = run_id_of(run_cli("run", "echo", "--args", '[1, "two"]'))
    by_kwargs = run_id_of(run_cli("run", "echo", "--kwargs", '{"k": [1]}'))
    later = run_id_of(run_cli("run", "echo", "--in", "30 seconds"))
    assert run_cli("worker", "--burst").exit_code == 0
    shown = {r["id"]: r for r in json_lines(
        run_cli("show", str(by_payload), str(by_args), str(by_kwargs), str(later),
                "--json").stdout)}
    assert shown[by_payload]["result"]["payload"] == {"url": "https://x"}
    assert shown[by_args]["result"]["payload"] == 1
    assert shown[by_args]["result"]["args"] == ["two"]
    assert shown[by_kwargs]["result"]["kwargs"] == {"k": [1]}
    assert shown[later]["state"] == "scheduled"
    assert is_iso_utc(shown[later]["run_at"])


def test_worker_queues_flag_takes_only_those_queues(cli_app: str) -> None:
    alpha = run_id_of(run_cli("run", "in_alpha"))
    beta = run_id_of(run_cli("run", "in_beta"))
    plain = run_id_of(run_cli("run", "echo"))
    assert run_cli("worker", "--burst", "--queues", "alpha,default").exit_code == 0
    states = {r["id"]: r["state"] for r in json_lines(run_cli("runs", "--json").stdout)}
    assert states[alpha] == "completed" and states[plain] == "completed"
    assert states[beta] == "queued"


def test_runs_state_filter_show_cancel_retry_and_purge(cli_app: str) -> None:
    failed = run_id_of(run_cli("run", "fails"))
    done = run_id_of(run_cli("run", "echo"))
    later = run_id_of(run_cli("run", "echo", "--in", "1 day"))
    assert run_cli("worker", "--burst").exit_code == 0
    listed = json_lines(run_cli("runs", "--state", "failed", "--json").stdout)
    assert [r["id"] for r in listed] == [failed]
    shown = run_cli("show", str(failed))
    assert shown.exit_code == 0 and "nope" in shown.stdout
    assert run_cli("cancel", str(later)).exit_code == 0
    assert run_cli("retry", str(failed)).exit_code == 0
    assert json_lines(run_cli("show", str(failed), "--json").stdout)[0]["state"] in (
        "queued", "scheduled")
    assert run_cli("purge").exit_code == 0
    remaining = {r["id"] for r in json_lines(run_cli("runs", "--json").stdout)}
    assert done not in remaining and later not in remaining and failed in remaining


def test_a_finished_run_cannot_be_cancelled(cli_app: str) -> None:
    done = run_id_of(run_cli("run", "echo"))
    assert run_cli("worker", "--burst").exit_code == 0
    result = run_cli("cancel", str(done))
    assert json_lines(run_cli("show", str(done), "--json").stdout)[0]["state"] == "completed"
    if result.exit_code != 0:  # refusing is as good as a note; a traceback is not
        assert_user_error(result)


def test_pause_resume_and_queues_json(cli_app: str) -> None:
    assert run_cli("pause", "--queue", "alpha").exit_code == 0
    assert run_cli("pause", "--job", "in_beta").exit_code == 0
    alpha = run_id_of(run_cli("run", "in_alpha"))
    beta = run_id_of(run_cli("run", "in_beta"))
    assert run_cli("worker", "--burst").exit_code == 0
    queues = {q["name"]: q for q in json_lines(run_cli("queues", "--json").stdout)}
    assert queues["alpha"]["paused"] is True
    assert run_cli("resume", "--queue", "alpha").exit_code == 0
    assert run_cli("resume", "--job", "in_beta").exit_code == 0
    assert run_cli("worker", "--burst").exit_code == 0
    shown = json_lines(run_cli("show", str(alpha), str(beta), "--json").stdout)
    assert {r["state"] for r in shown} == {"completed"}


def test_schedules_lists_the_code_schedule_with_utc_times(cli_app: str) -> None:
    assert run_cli("worker", "--burst").exit_code == 0
    rows = json_lines(run_cli("schedules", "--json").stdout)
    row = next(r for r in rows if "hourly" in json.dumps(r))
    times = [v for v in json.dumps(row).split('"') if v[:2] == "20" and "T" in v]
    assert times and all(is_iso_utc(t) for t in times)


def test_migrate_twice_on_a_url_given_by_flag(tmp_path: object, monkeypatch: pytest.MonkeyPatch
                                              ) -> None:
    monkeypatch.delenv("CONVEYOR_APP", raising=False)
    target = f"sqlite:///{tmp_path}/fresh.db"
    assert run_cli("--url", target, "migrate").exit_code == 0
    assert run_cli("--url", target, "migrate").exit_code == 0


def test_an_unreachable_database_is_one_line(cli_app: str) -> None:
    assert_user_error(run_cli("--url", "postgresql://nobody@127.0.0.1:1/none", "runs"))


def test_read_only_verbs_leave_a_file_that_is_no_store_untouched(sqlite_cli_app: str,
                                                                 tmp_path: Path) -> None:
    """SQLite only: PostgreSQL's missing store is a schema (test_processes checks it)."""
    foreign, empty = tmp_path / "other-program.db", tmp_path / "empty.db"
    versioned = tmp_path / "other-versioned.db"  # its own schema version, as many keep
    for path, version in ((foreign, 0), (versioned, 7)):
        with sqlite3.connect(path) as conn:
            conn.execute("CREATE TABLE users (id INTEGER)")
            conn.execute(f"PRAGMA user_version = {version}")
        conn.close()
    empty.touch()
    before = {path: path.read_bytes() for path in (foreign, versioned, empty)}
    for path in before:
        for verb in (["runs"], ["jobs"], ["show", "1"], ["schedules"], ["queues"]):
            assert_user_error(run_cli("--url", f"sqlite:///{path}", *verb), "no conveyor store")
    assert {path: path.read_bytes() for path in before} == before
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith(("other", "empty"))
                  ) == ["empty.db", "other-program.db", "other-versioned.db"]
