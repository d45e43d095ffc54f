"""CLI junk never prints a traceback: huge ids, out-of-range dates and durations,
non-UTF-8 arguments and odd URLs are one ``error: ...`` line and exit status 2."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner
from hypothesis import given, settings
from hypothesis import strategies as st

from conveyor.cli import main
from conveyor.stores.base import NewJob
from tests.cli.conftest import APP_SOURCE, Invoke, run_cli
from tests.support import overwrite

HUGE = "9" * 30
CASES = [
    ["show", HUGE],
    ["show", "0"],
    ["show", "-1"],
    ["show", "1e5"],
    ["cancel", HUGE],
    ["retry", str(2**63)],
    ["runs", "--limit", HUGE],
    ["worker", "--processes", HUGE, "--burst"],
    ["worker", "--concurrency", HUGE, "--burst"],
    ["run", "add", "--args", "[1, 2]", "--at", "9999-12-31T23:59:59-05:00"],
    ["run", "add", "--args", "[1, 2]", "--at", "0001-01-01T00:00:00+05:00"],
    ["run", "add", "--args", "[1, 2]", "--at", "2027-13-45T99:00"],
    ["run", "add", "--args", "[1, 2]", "--in", f"{HUGE} years"],
    ["run", "add", "--args", "[1, 2]", "--in", f"{HUGE} seconds"],
    ["run", "add", "--args", "[1, 2]", "--in", "1e400"],
    ["run", "add", "--args", "[1, 2]", "--in", "nan seconds"],
    ["run", "add", "--args", "[1, 2]", "--priority", HUGE],
    ["run", "add", "--args", "[1, 2]", "--priority", "9" * 5000],
    ["run", "add", "--args", "[1, 2]", "--owner", "9" * 5000],
    ["run", "add", "--args", "[1e999, 2]"],
    ["run", "add", "--payload", "[" * 100_000 + "]" * 100_000],
    ["purge", "--older-than", f"{HUGE} years"],
    ["purge", "--older-than", "99999999999 years"],
    ["runs", "--owner", "k\udcff"],
    ["run", "add", "--args", "[1, 2]", "--key", "k\udcff"],
    ["run", "add", "--payload", '"\udcff"'],
    ["show", "\udcff"],
    ["jobs", "--url", "postgresql://[::1"],
    ["jobs", "--url", "postgresql://u@h:99999/db"],
    ["jobs", "--url", "sqlite:///"],
    ["jobs", "--url", "sqlite:////nonexistent/dir/x.db"],
    ["jobs", "--url", "http://example.com"],
    ["jobs", "--url", "://"],
    ["jobs", "--url", "sqlite"],
    ["jobs", "--url", "sqlite:///%00.db"],
    ["jobs", "--url", "postgresql://%zz@127.0.0.1:1/x"],
]


@pytest.mark.parametrize("args", CASES, ids=[" ".join(a)[:60] for a in CASES])
def test_junk_input_is_one_error_line_and_exit_2(
    args: list[str], app_file: Path, db_url: str
) -> None:
    env = {"CONVEYOR_APP": str(app_file), "CONVEYOR_URL": db_url, "COLUMNS": "200"}
    result = CliRunner().invoke(main, args, env=env)
    assert result.exit_code == 2, (result.output, result.exception)
    assert isinstance(result.exception, SystemExit), result.exception
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), result.stderr
    assert "Traceback" not in result.output


def test_non_utf8_argv_in_a_real_process_is_one_line(app_file: Path, tmp_path: Path) -> None:
    # A filename byte that is not UTF-8 reaches Python as a lone surrogate in sys.argv.
    prelude = "import sys; sys.argv.append('--owner'); sys.argv.append('x\\udcff')"
    result = run_cli("runs", "--app", str(app_file), "--url", f"sqlite:///{tmp_path}/x.db",
                     cwd=tmp_path, prelude=prelude)
    assert result.returncode == 2
    assert result.stderr.splitlines() == [
        "error: argument 'x\ufffd' is not valid UTF-8 text; conveyor accepts UTF-8 arguments only"
    ]


# Options that take the user's text, and verbs that take ids or names.
TEXT_OPTIONS = [
    ["run", "add", "--payload"], ["run", "add", "--args"], ["run", "add", "--kwargs"],
    ["run", "add", "--args", "[1, 2]", "--in"], ["run", "add", "--args", "[1, 2]", "--at"],
    ["run", "add", "--args", "[1, 2]", "--priority"], ["run", "add", "--args", "[1, 2]", "--queue"],
    ["run", "add", "--args", "[1, 2]", "--key"], ["run", "add", "--args", "[1, 2]", "--owner"],
    ["run"], ["runs", "--state"], ["runs", "--job"], ["runs", "--queue"], ["runs", "--owner"],
    ["runs", "--limit"], ["show"], ["cancel"], ["retry"], ["pause", "--queue"], ["pause", "--job"],
    ["resume", "--job"], ["schedules", "--pause"], ["purge", "--older-than"], ["purge", "--job"],
    ["worker", "--burst", "--queues"], ["worker", "--burst", "--grace"],
]


@settings(max_examples=300, deadline=None)
@given(option=st.sampled_from(TEXT_OPTIONS),
       value=st.text(st.characters(exclude_categories=("Cs",), exclude_characters="\x00"),
                     max_size=30))
def test_any_text_is_a_result_or_one_error_line(option: list[str], value: str,
                                                tmp_path_factory: pytest.TempPathFactory) -> None:
    folder = tmp_path_factory.getbasetemp() / "cli-fuzz"
    folder.mkdir(exist_ok=True)
    app_file = folder / "cliapp.py"
    if not app_file.exists():
        app_file.write_text(APP_SOURCE)
    env = {"CONVEYOR_APP": str(app_file), "CONVEYOR_URL": f"sqlite:///{folder}/fuzz.db",
           "COLUMNS": "200"}
    result = CliRunner().invoke(main, [*option, value], env=env)
    assert result.exit_code in (0, 2), (result.output, result.exception)
    assert result.exception is None or isinstance(result.exception, SystemExit)
    if result.exit_code == 2:
        lines = result.stderr.splitlines()
        assert len(lines) == 1 and lines[0].startswith("error: "), result.stderr


def test_rows_conveyor_did_not_write_are_shown_not_a_traceback(
    invoke: Invoke, app_file: Path, db_url: str
) -> None:
    """Columns written by hand or by other software: not JSON, not their shape, times no
    datetime holds."""
    from conveyor import Conveyor

    with Conveyor(db_url) as app:
        ids = [app.store.insert([NewJob("add", args="[1, 2]")])[0] for _ in range(3)]
        overwrite(app, "jobs", ids[0], args="{x", kwargs="[1]", result="{x", state="completed")
        overwrite(app, "jobs", ids[1], state="failed", error="[1]", history='{"a": 1}')
        overwrite(app, "jobs", ids[2], run_at=-1e12, created_at=1e300)
    listed = invoke("runs", "--json")
    assert listed.exit_code == 0, listed.output
    rows = [json.loads(line) for line in listed.stdout.splitlines()]  # one run a line
    assert {r["id"]: r["result"] for r in rows}[ids[0]] == "{x"
    for args in (["runs"], ["show", *map(str, ids)], ["show", "--json", *map(str, ids)]):
        result = invoke(*args)
        assert result.exit_code == 0 and "Traceback" not in result.output, (args, result.output)
