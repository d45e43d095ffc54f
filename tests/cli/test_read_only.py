"""Read-only verbs write nothing: no SQLite file, no PostgreSQL schema or table, no
schedule saved by importing the app; a store that does not exist yet is one error line.
Schedules declared in code are saved by workers and ``conveyor schedules sync``."""

from __future__ import annotations

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
    from conveyor import Conveyor

    app = Conveyor()

    @app.job(trigger=app.every("15 minutes"))
    def tick():
        return "tock"
    """
)
READ_ONLY = [["jobs"], ["runs"], ["runs", "--json"], ["show", "1"], ["schedules"],
             ["schedules", "--json"], ["queues"], ["queues", "--json"]]
Run = Callable[..., Result]


@pytest.fixture(params=["sqlite", "postgres"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    return store_url(request.param, request, tmp_path, "fresh.db")


@pytest.fixture
def run(tmp_path: Path, store: str) -> Run:
    (tmp_path / "tickapp.py").write_text(APP)

    def invoke(*args: str) -> Result:
        env = {"CONVEYOR_APP": str(tmp_path / "tickapp.py"), "CONVEYOR_URL": store,
               "COLUMNS": "200"}
        return CliRunner().invoke(main, list(args), env=env)

    return invoke


def _pg_schema_exists(url: str) -> bool:
    import psycopg

    base, _, query = url.partition("?schema=")
    with psycopg.connect(base, autocommit=True) as conn:
        row = conn.execute("SELECT 1 FROM pg_namespace WHERE nspname = %s", (query,))
        return row.fetchone() is not None


def _exists(store: str, tmp_path: Path) -> bool:
    if store.startswith("sqlite"):
        return (tmp_path / "fresh.db").exists()
    return _pg_schema_exists(store)


@pytest.mark.parametrize("args", READ_ONLY, ids=" ".join)
def test_a_read_only_verb_on_a_missing_store_says_so_and_creates_nothing(
    run: Run, store: str, tmp_path: Path, args: list[str],
) -> None:
    result = run(*args)
    assert result.exit_code == 2, result.output
    assert result.stdout == ""
    [line] = result.stderr.splitlines()
    assert line.startswith("error: no conveyor store at ") and line.endswith(
        "yet; start a worker or run `conveyor migrate` to create it")
    assert "password" not in line
    assert not _exists(store, tmp_path)


@pytest.mark.parametrize("args", READ_ONLY, ids=" ".join)
def test_a_read_only_verb_does_not_save_the_apps_schedules(
    run: Run, store: str, args: list[str],
) -> None:
    assert run("migrate").exit_code == 0
    result = run(*args)
    assert result.exit_code in (0, 2), result.output  # show 1: no such job
    with Conveyor(store) as app:
        assert app.store.list_schedules() == []
        assert app.count() == 0


def test_schedules_sync_saves_them_and_a_removal_stays_removed(run: Run, store: str) -> None:
    result = run("schedules", "sync")
    assert result.exit_code == 0, result.output
    assert result.stdout == "saved 1 schedule declared in code: tick\n"
    assert "tick" in run("schedules").stdout
    assert run("schedules", "--remove", "tick").stdout == "removed tick\n"
    for args in (["runs"], ["jobs"], ["schedules"], ["run", "tick"]):  # importing the app
        assert run(*args).exit_code == 0
    assert run("schedules").stdout == "no schedules\n"


def test_a_worker_saves_the_code_schedules_when_it_starts(run: Run, store: str) -> None:
    assert run("worker", "--burst").exit_code == 0
    with Conveyor(store) as app:
        assert [s.id for s in app.store.list_schedules()] == ["tick"]
        assert app.count(job="tick", state="scheduled") == 1


def test_importing_an_app_in_python_writes_no_schedule(store: str) -> None:
    with Conveyor(store) as app:
        @app.job(trigger=app.every("hour"))
        def hourly() -> None: ...

        assert app.store.list_schedules() == []
        assert app.sync_schedules() == ["hourly"]
        assert [s.id for s in app.store.list_schedules()] == ["hourly"]
