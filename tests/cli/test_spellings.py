"""What a user of other job tools reaches for, on SQLite and PostgreSQL: ``--app`` and
``--url`` before the verb (``celery -A app worker``, ``flask --app app run``), several
commands run in-process with click's runner on ``module:attr`` (each imports the app
afresh; an app the caller imported itself is used and left open), a bare
``conveyor purge`` deleting every finished run as ``app.purge()`` does, and a job named by
the slug its dashboard URLs use wherever a verb takes a job."""

from __future__ import annotations

import json
import sys
import textwrap
from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from conveyor import Conveyor
from conveyor.cli import main
from tests.support import store_url

APP = textwrap.dedent(
    """
    from conveyor import Conveyor, Fail

    app = Conveyor("sqlite:///never-used.db")

    @app.job
    def add(a, b):
        return a + b

    @app.job
    def broken():
        raise Fail("on purpose")

    @app.job("Send Email")
    def send_email(payload=None):
        return payload
    """
)
Run = Callable[..., Result]


@pytest.fixture(params=["sqlite", "postgres"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    return store_url(request.param, request, tmp_path, "spell.db")


@pytest.fixture
def run(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Run:
    (tmp_path / "spellapp.py").write_text(APP)
    monkeypatch.chdir(tmp_path)

    def invoke(*args: str) -> Result:
        return CliRunner().invoke(main, list(args), env={"CONVEYOR_APP": None,
                                                         "CONVEYOR_URL": None})

    return invoke


def test_app_and_url_before_the_verb_are_used_by_every_verb(run: Run, store: str) -> None:
    migrated = run("--app", "spellapp:app", "--url", store, "migrate")
    assert migrated.exit_code == 0, migrated.output
    added = run("--app", "spellapp:app", "--url", store, "run", "add", "--args", "[2, 3]")
    assert added.exit_code == 0, added.output
    worked = run("--app", "spellapp:app", "--url", store, "worker", "--burst")
    assert worked.exit_code == 0, worked.output
    shown = run("--app", "spellapp.py", "--url", store, "show", added.stdout.strip(), "--json")
    assert shown.exit_code == 0, shown.output
    assert '"result": 5' in shown.stdout
    with Conveyor(store) as app:
        assert [r.result for r in app.jobs_list()] == [5]


def test_the_verbs_own_app_wins_over_the_groups(run: Run, store: str,
                                                 tmp_path: Path) -> None:
    (tmp_path / "other.py").write_text("raise SystemExit('not this one')\n")
    result = run("--app", "other:app", "--url", store, "migrate", "--app", "spellapp:app")
    assert result.exit_code == 0, result.output


def test_a_bad_app_before_the_verb_is_one_error_line(run: Run) -> None:
    result = run("--app", "nosuchmodule:app", "jobs")
    assert result.exit_code == 2
    assert result.stderr.splitlines() == [
        f"error: cannot import app module 'nosuchmodule': no module named 'nosuchmodule' "
        f"(looked in {Path.cwd()} and sys.path)"
    ]


def test_purge_without_options_deletes_every_finished_run(run: Run, store: str) -> None:
    app_args = ("--app", "spellapp:app", "--url", store)
    for args in (["--args", "[1, 2]"], []):
        run("run", "add" if args else "broken", *args, *app_args)
    pending = int(run("run", "add", "--args", "[1, 2]", "--in", "1 hour", *app_args).stdout)
    assert run("worker", "--burst", *app_args).exit_code == 0
    result = run("purge", *app_args)
    assert result.exit_code == 0, result.output
    assert result.stdout.strip() == "purged 2 runs"
    with Conveyor(store) as app:
        assert [r.id for r in app.jobs_list()] == [pending]


def test_an_app_the_caller_imported_is_used_and_left_open(
    run: Run, store: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "callerapp.py").write_text(APP.replace('"sqlite:///never-used.db"', repr(store)))
    monkeypatch.syspath_prepend(str(tmp_path))
    import callerapp  # type: ignore[import-not-found]

    try:
        handle = callerapp.add(1, 2).run_now()
        worked = run("worker", "callerapp:app", "--burst")
        assert worked.exit_code == 0, worked.output
        assert handle.result(timeout=10) == 3  # the caller's app is still open
        listed = run("runs", "--app", "callerapp:app")
        assert listed.exit_code == 0, listed.output
        assert callerapp.app.get_job(handle.id).state == "completed"
    finally:
        callerapp.app.close()
        sys.modules.pop("callerapp", None)


def test_verbs_that_take_a_job_take_its_slug_too(run: Run, store: str) -> None:
    app_args = ("--app", "spellapp:app", "--url", store)
    assert run("run", "send-email", "--payload", "1", *app_args).exit_code == 0
    paused = run("pause", "--job", "send-email", *app_args)
    assert (paused.exit_code, paused.stdout.strip()) == (0, "paused job Send Email")
    with Conveyor(store) as app:
        assert app.paused_jobs() == ["Send Email"]
    assert run("resume", "--job", "send-email", *app_args).exit_code == 0
    listed = run("runs", "--job", "send-email", "--json", *app_args)
    assert listed.exit_code == 0 and '"job": "Send Email"' in listed.stdout
    assert run("worker", "--burst", *app_args).exit_code == 0
    assert run("purge", "--job", "send-email", *app_args).stdout.strip() == "purged 1 run"


def test_runs_owner_zero_lists_the_systems_runs_as_run_owner_zero_stores_them(
    run: Run, store: str
) -> None:
    app_args = ("--app", "spellapp:app", "--url", store)
    system = run("run", "add", "--args", "[1, 2]", "--owner", "0", *app_args).stdout.strip()
    owned = run("run", "add", "--args", "[1, 2]", "--owner", "7", *app_args).stdout.strip()

    def listed(owner: str) -> list[str]:
        result = run("runs", "--owner", owner, "--json", *app_args)
        assert result.exit_code == 0, result.output
        return [line.split(",")[0] for line in result.stdout.splitlines()]

    assert listed("0") == listed("system") == [f'{{"id": {system}']
    assert listed("7") == [f'{{"id": {owned}']
    shown = json.loads(run("runs", "--owner", "7", "--json", *app_args).stdout)
    assert shown["owner"] == 7 and shown["priority"] == 0  # JSON numbers, as given
