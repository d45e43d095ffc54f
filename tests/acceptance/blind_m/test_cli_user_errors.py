"""SPEC §7: every CLI verb answers a user's mistake with one line on stderr and a
non-zero exit, never a traceback; odd option values included (input refused before any
store is reached: on SQLite only)."""

from __future__ import annotations

from pathlib import Path

from tests.acceptance.blind_m.support import assert_user_error, run_cli, run_id_of

BAD_RUN_OPTIONS = [
    ["--payload", "{not json"],
    ["--args", '{"a": 1}'],
    ["--kwargs", "[1, 2]"],
    ["--payload", '"a\\u0000b"'],
    ["--payload", '"\\ud800"'],
    ["--in", "30 parsecs"],
    ["--in", "-5 seconds"],
    ["--in", "nan seconds"],
    ["--in", "soon"],
    ["--at", "not-a-date"],
    ["--at", "2030-13-45T00:00:00+00:00"],
]


def test_run_refuses_bad_values_in_one_line(sqlite_cli_app: Path) -> None:
    for options in BAD_RUN_OPTIONS:
        assert_user_error(run_cli("run", "echo", *options))


def test_run_of_an_unknown_job_names_it(sqlite_cli_app: Path) -> None:
    assert_user_error(run_cli("run", "no-such-job", "--payload", "{}"), "no-such-job")


def test_ids_that_are_not_runs_are_user_errors(cli_app: Path) -> None:
    for verb in ("show", "cancel", "retry"):
        assert_user_error(run_cli(verb, "not-a-number"))
        assert_user_error(run_cli(verb, "987654321"), "987654321")


def test_a_bad_state_filter_lists_the_states(sqlite_cli_app: Path) -> None:
    assert_user_error(run_cli("runs", "--state", "exploded"), "exploded", "failed")


def test_pause_needs_a_target_and_knows_the_jobs(sqlite_cli_app: Path) -> None:
    assert run_cli("pause").exit_code not in (0, None)
    assert "Traceback" not in run_cli("pause").output
    assert_user_error(run_cli("pause", "--job", "no-such-job"), "no-such-job")


def test_worker_options_out_of_range(sqlite_cli_app: Path) -> None:
    for options in (["--concurrency", "0"], ["--concurrency", "-3"],
                    ["--concurrency", "many"], ["--log-format", "xml"]):
        result = run_cli("worker", "--burst", *options)
        assert result.exit_code not in (0, None), options
        assert "Traceback" not in result.output


def test_dashboard_refuses_to_bind_elsewhere_without_a_token(sqlite_cli_app: Path) -> None:
    assert_user_error(run_cli("dashboard", "--host", "0.0.0.0"), "CONVEYOR_TOKEN")


def test_dashboard_refuses_a_token_clients_cannot_send_in_one_line(
        sqlite_cli_app: Path) -> None:
    for token in ("   ", " padded-secret-token-1234 ", "bad\x01token-with-control-chars",
                  "s\u00e9cret-token-a-header-cannot-carry"):
        for host in ("0.0.0.0", "127.0.0.1"):
            refused = run_cli("dashboard", "--host", host, env={"CONVEYOR_TOKEN": token})
            assert_user_error(refused, "token")


def test_bad_app_and_url_are_one_line(sqlite_cli_app: Path, tmp_path: Path) -> None:
    missing_module = run_cli("--app", "no_such_module_blindm:app", "jobs")
    assert_user_error(missing_module, "no_such_module_blindm")
    assert_user_error(run_cli("--app", f"{sqlite_cli_app.stem}:missing", "jobs"), "missing")
    assert_user_error(run_cli("--url", "nosuchscheme://x", "jobs"), "nosuchscheme")
    assert_user_error(run_cli("--url", "postgresql://postgres@127.0.0.1:1/blindm", "runs"))


def test_read_only_verbs_against_a_missing_store_create_nothing(sqlite_cli_app: Path,
                                                               tmp_path: Path) -> None:
    missing = tmp_path / "absent" / "none.db"
    missing.parent.mkdir()
    for verb in (["runs"], ["show", "1"], ["schedules"], ["queues"]):
        result = run_cli("--url", f"sqlite:///{missing}", *verb)
        assert result.exit_code not in (0, None), verb
        assert "Traceback" not in result.output
        assert not missing.exists(), verb
    assert list(missing.parent.iterdir()) == []


def test_version_and_a_good_run_still_work(cli_app: Path) -> None:
    version = run_cli("--version")
    assert version.exit_code == 0 and any(ch.isdigit() for ch in version.stdout)
    assert run_id_of(run_cli("run", "echo", "--in", "1.5 weeks")) > 0
    assert run_id_of(run_cli("run", "echo", "--at", "2031-02-03T04:05:06+00:00")) > 0
