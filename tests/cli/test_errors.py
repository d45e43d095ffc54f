"""Every user error prints one ``error: ...`` line on stderr and exits 2, no traceback —
checked in-process (CliRunner) and in a real subprocess for each kind of error."""

from __future__ import annotations

import re
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner

from conveyor import Conveyor
from conveyor.cli import main
from conveyor.errors import StoreError
from tests.cli.conftest import run_cli

# (name, arguments, expected stderr line as a regex); {app} is the app file, {tmp} the
# test's folder, {db} an empty SQLite file.
CASES = [
    ("bad url", ["jobs", "--url", "nonsense"],
     r"error: invalid store URL 'nonsense'; accepted: sqlite:///path/to/file\.db, memory://, "
     r"postgresql://user@host/db"),
    ("unknown url scheme", ["jobs", "--url", "mysql://h/db"],
     r"error: unknown store URL scheme 'mysql' in 'mysql://h/db'; accepted: .*memory://.*"),
    ("unknown job", ["run", "nope"],
     r"error: no job 'nope' is defined; defined jobs: add, greet, broken"),
    ("bad json payload", ["run", "greet", "--payload", "{name: 1}"],
     r"error: invalid JSON in --payload: Expecting property name enclosed in double quotes: "
     r"line 1 column 2 \(char 1\); e\.g\. --payload '\{\"path\": \"a\.png\"\}'"),
    ("args not a list", ["run", "add", "--args", '{"a": 1}'],
     r"error: --args must be a JSON list, got dict"),
    ("bad --in text", ["run", "add", "--args", "[1, 2]", "--in", "soonish"],
     r"error: invalid --in 'soonish': cannot read duration \"soonish\"; accepted: .*\"7 days\".*"),
    ("bad --in unit", ["run", "add", "--args", "[1, 2]", "--in", "3 fortnights"],
     r"error: invalid --in '3 fortnights': unknown time unit \"fortnights\"; accepted: "
     r"millisecond, second, .*, year \(singular or plural\)"),
    ("bad --at", ["run", "add", "--args", "[1, 2]", "--at", "next tuesday"],
     r"error: invalid --at 'next tuesday': accepted: an ISO 8601 date-time like "
     r"2027-01-01T09:30 \(in the app's timezone, UTC\) or 2027-01-01T09:30:00\+02:00"),
    ("missing app file", ["jobs", "--app", "{tmp}/missing.py"],
     r"error: cannot read app file '.*/missing\.py': no such file"),
    ("unimportable module", ["jobs", "--app", "no_such_module_xyz:app"],
     r"error: cannot import app module 'no_such_module_xyz': no module named "
     r"'no_such_module_xyz' \(looked in .* and sys\.path\)"),
    ("attr missing", ["jobs", "--app", "{app}:nothing"],
     r"error: app '.*cliapp\.py' has no attribute 'nothing'; its Conveyor apps: app"),
    ("attr not a conveyor", ["jobs", "--app", "{app}:add"],
     r"error: .*cliapp\.py:add is a JobDefinition, not a conveyor\.Conveyor app"),
    ("no app", ["jobs", "--app", ""],
     r"error: no app given: pass --app module:attr \(or path/to/app\.py\), or set "
     r"\$CONVEYOR_APP"),
    ("corrupt database", ["runs", "--url", "sqlite:///{tmp}/corrupt.db"],
     r"error: cannot open SQLite database '.*corrupt\.db': the file is corrupt or not a "
     r"database"),
    ("unreachable database", ["runs", "--url", "postgresql://postgres@127.0.0.1:1/none"],
     r"error: cannot reach PostgreSQL at 127\.0\.0\.1:1: .*"),
    ("unknown job id", ["show", "999", "--url", "{db}"], r"error: no job with id 999"),
    ("store not created yet", ["runs", "--url", "sqlite:///{tmp}/none.db"],
     r"error: no conveyor store at sqlite:///.*/none\.db yet; start a worker or run "
     r"`conveyor migrate` to create it"),
    ("unknown job id to cancel", ["cancel", "999", "--url", "{db}"],
     r"error: no job with id 999"),
    ("worker --queues naming no queue", ["worker", "--burst", "--queues", " , "],
     r"error: --queues ' , ' names no queue; give names like --queues mail,exports, or "
     r"leave it out for every queue"),
    ("worker processes on a private memory store",
     ["worker", "--burst", "--processes", "2", "--url", "memory://"],
     r"error: --processes 2 needs a store the processes share \(sqlite:///file\.db or "
     r"postgresql://\.\.\.\); each process would have a memory:// store of its own"),
    ("positional app and a different --app", ["worker", "{app}", "--app", "{tmp}/other.py"],
     r"error: two apps given: '.*cliapp\.py' and --app '.*other\.py'; give one"),
    ("usage error", ["runs", "--limit", "zero"],
     r"error: Invalid value for '--limit': 'zero' is not a valid integer( range)?\."),
]


@pytest.fixture
def case_dir(tmp_path: Path, app_file: Path) -> Path:
    (tmp_path / "corrupt.db").write_bytes(b"this is not a database" * 300)
    Conveyor(f"sqlite:///{tmp_path}/db.db").close()  # an empty store
    return tmp_path


def expand(args: list[str], tmp: Path, app_file: Path) -> list[str]:
    db = f"sqlite:///{tmp}/db.db"
    return [a.replace("{app}", str(app_file)).replace("{tmp}", str(tmp)).replace("{db}", db)
            for a in args]


def check(stderr: str, expected: str) -> None:
    lines = stderr.splitlines()
    assert len(lines) == 1, stderr
    assert re.fullmatch(expected, lines[0]), lines[0]


@pytest.mark.parametrize(("name", "args", "expected"), CASES, ids=[c[0] for c in CASES])
def test_user_error_in_process(name: str, args: list[str], expected: str, case_dir: Path,
                               app_file: Path) -> None:
    env = {"CONVEYOR_APP": str(app_file), "CONVEYOR_URL": f"sqlite:///{case_dir}/app.db"}
    result = CliRunner().invoke(main, expand(args, case_dir, app_file), env=env)
    assert result.exit_code == 2, result.output
    check(result.stderr, expected)
    assert result.stdout == ""


@pytest.mark.parametrize(("name", "args", "expected"), CASES, ids=[c[0] for c in CASES])
def test_user_error_in_a_subprocess(name: str, args: list[str], expected: str,
                                    case_dir: Path, app_file: Path) -> None:
    env = {"CONVEYOR_APP": str(app_file), "CONVEYOR_URL": f"sqlite:///{case_dir}/app.db"}
    result = run_cli(*expand(args, case_dir, app_file), cwd=case_dir, env=env)
    assert result.returncode == 2, result.stderr
    check(result.stderr, expected)
    assert "Traceback" not in result.stderr


@pytest.fixture
def locked_db(tmp_path: Path, app_file: Path) -> Iterator[str]:
    """A SQLite file whose write lock another process holds (BEGIN EXCLUSIVE)."""
    url = f"sqlite:///{tmp_path}/locked.db"
    assert run_cli("migrate", "--app", str(app_file), "--url", url, cwd=tmp_path).returncode == 0
    holder = subprocess.Popen(
        [sys.executable, "-c", textwrap.dedent(f"""
            import sqlite3, sys, time
            conn = sqlite3.connect({str(tmp_path / "locked.db")!r}, isolation_level=None)
            conn.execute("PRAGMA locking_mode = EXCLUSIVE")
            conn.execute("BEGIN EXCLUSIVE")
            conn.execute("UPDATE conveyor_jobs SET priority = priority")
            print("held", flush=True)
            time.sleep(60)
        """)],
        stdout=subprocess.PIPE, text=True,
    )
    assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
    yield url
    holder.kill()
    holder.wait()


def test_locked_database_in_a_subprocess(locked_db: str, tmp_path: Path, app_file: Path) -> None:
    for args in (["runs"], ["cancel", "1"], ["run", "add", "--args", "[1, 2]"]):
        result = run_cli(*args, "--app", str(app_file), "--url", locked_db, cwd=tmp_path,
                         prelude="import conveyor.stores.sqlite.connection as c\n"
                                 "c.BUSY_TIMEOUT = 0.3")
        assert result.returncode == 2, result.stderr
        check(result.stderr, r"error: cannot (open|write to) SQLite database '.*locked\.db': "
                             r"it is locked by another process")


def test_locked_database_in_process(locked_db: str, app_file: Path,
                                    monkeypatch: pytest.MonkeyPatch) -> None:
    import conveyor.stores.sqlite.connection as connection

    monkeypatch.setattr(connection, "BUSY_TIMEOUT", 0.3)
    result = CliRunner().invoke(main, ["runs", "--app", str(app_file), "--url", locked_db])
    assert result.exit_code == 2
    check(result.stderr, r"error: cannot open SQLite database '.*locked\.db': it is locked "
                         r"by another process")


def test_a_bug_in_the_app_shows_one_line_then_only_its_own_frames(tmp_path: Path) -> None:
    (tmp_path / "buggy.py").write_text(
        "import json\n\ndef helper():\n    return json.loads(undefined_name)\n\nhelper()\n")
    for spec in ("buggy.py", "buggy:app"):
        result = run_cli("jobs", "--app", spec, cwd=tmp_path)
        assert result.returncode == 2, result.stderr
        first, *rest = result.stderr.splitlines()
        what = "app file 'buggy.py'" if spec.endswith(".py") else "app module 'buggy'"
        assert first == (f"error: cannot import {what}: NameError: name 'undefined_name' "
                         "is not defined")
        assert rest[0] == "Traceback (most recent call last; your code only):"
        files = re.findall(r'File "([^"]+)"', result.stderr)
        assert files and all(f.endswith("buggy.py") for f in files), result.stderr
        assert "importlib" not in result.stderr and "conveyor" not in "".join(rest)


def test_a_missing_dependency_or_syntax_error_in_the_app_is_one_line_and_exit_2(
    tmp_path: Path,
) -> None:
    (tmp_path / "dep.py").write_text("import not_installed_package_xyz\n")
    (tmp_path / "syn.py").write_text("x = (\n")
    result = run_cli("jobs", "--app", "dep.py", cwd=tmp_path)
    assert result.returncode == 2
    assert result.stderr.startswith("error: cannot import app file 'dep.py': "
                                    "ModuleNotFoundError: No module named "
                                    "'not_installed_package_xyz'\n")
    result = run_cli("jobs", "--app", "syn.py", cwd=tmp_path)
    assert result.returncode == 2
    assert result.stderr.startswith("error: cannot import app file 'syn.py': SyntaxError: ")
    assert 'syn.py", line 1' in result.stderr


def test_conveyor_without_a_verb_prints_its_help_not_an_error_line() -> None:
    result = CliRunner().invoke(main, [])
    assert result.exit_code == 2
    lines = result.stderr.splitlines()
    assert lines[0].startswith("Usage: ") and lines[0].endswith(" [OPTIONS] COMMAND [ARGS]...")
    assert "Commands:" in lines and not any(line.startswith("error:") for line in lines)


@pytest.mark.parametrize("attr", ["nope", "notapp"])
def test_an_app_not_found_in_its_module_leaves_no_store_open(
    tmp_path: Path, store_url: str, monkeypatch: pytest.MonkeyPatch, attr: str,
) -> None:
    """The module imported opened its apps' stores (a PostgreSQL pool): the command that
    finds no app in it closes them (not left to garbage collection)."""
    Conveyor(store_url).close()  # (created: the command reads it)
    opened: list[Conveyor] = []
    init = Conveyor.__init__

    def tracked(app: Conveyor, *args: object, **kwargs: object) -> None:
        init(app, *args, **kwargs)  # type: ignore[arg-type]
        opened.append(app)

    monkeypatch.setattr(Conveyor, "__init__", tracked)
    (tmp_path / "storeapps.py").write_text(
        f"from conveyor import Conveyor\n\napp = Conveyor({store_url!r})\nnotapp = 1\n")
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(main, ["jobs", "--app", f"storeapps:{attr}"])
    assert result.exit_code == 2 and attr in result.stderr and "Traceback" not in result.output
    assert len(opened) == 1
    with pytest.raises(StoreError, match="closed"):
        opened[0].count()
