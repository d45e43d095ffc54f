"""The dashboard on a store that does not exist yet: it serves all the same, every page
and API call says so (503) and nothing is created; once ``conveyor migrate`` (or a
worker) creates the store, the same server shows it."""

from __future__ import annotations

import re
import signal
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from click.testing import CliRunner
from starlette.testclient import TestClient

from conveyor import Conveyor
from conveyor.cli import main
from conveyor.dashboard import create_app
from conveyor.readonly import read_only
from tests.dashboard.helpers import BASE, first_answer, start_dashboard
from tests.support import drop_database_later, free_port

# Each test starts several subprocesses (each imports conveyor and more): minutes in
# all on a CI machine at load 16, past the default 120 s timeout.
pytestmark = pytest.mark.timeout(600)

TICK_APP = """
from conveyor import Conveyor
app = Conveyor({url!r})

@app.job(trigger=app.every("15 minutes"))
def tick():
    return "tock"
"""
PASSWORD = "s3cret-pw"  # PostgreSQL trusts local connections: never checked, never shown


@pytest.fixture(params=["sqlite", "postgres"])
def missing_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A store URL with nothing there yet: no SQLite file; a PostgreSQL schema not
    created (with a password in the URL, to check it is never shown)."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path}/fresh.db"
    return _with_password(request.getfixturevalue("pg_url"))


@pytest.fixture
def new_database(pg_database: str) -> Iterator[str]:
    """A new PostgreSQL database, without conveyor's tables in its public schema."""
    import psycopg

    name = f"conveyor_dash_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(pg_database, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    yield f"{pg_database.rsplit('/', 1)[0]}/{name}"
    drop_database_later(pg_database, name)


def _with_password(url: str) -> str:
    return re.sub(r"://([^:@/]+)@", rf"://\1:{PASSWORD}@", url, count=1)


def _created(url: str) -> bool:
    """Whether anything of a store is at ``url``: the SQLite file, the PostgreSQL schema
    (or any table in the public one)."""
    if url.startswith("sqlite"):
        return Path(urlsplit(url).path[1:]).exists()
    import psycopg

    parts = urlsplit(url)
    schema = parse_qs(parts.query).get("schema", ["public"])[0]
    with psycopg.connect(parts._replace(query="").geturl(), autocommit=True) as conn:
        row = conn.execute(
            "SELECT count(*) FROM pg_namespace n LEFT JOIN pg_class c ON c.relnamespace = n.oid"
            " WHERE n.nspname = %s AND (n.nspname <> 'public' OR c.oid IS NOT NULL)", (schema,),
        ).fetchone()
    return bool(row and row[0])


def test_the_dashboard_serves_a_store_that_does_not_exist_yet_and_creates_nothing(
    tmp_path: Path, missing_url: str,
) -> None:
    app_file = tmp_path / "tickapp.py"
    app_file.write_text(TICK_APP.format(url=missing_url))
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    proc = start_dashboard(app_file, "--port", str(port), worker=False)
    try:
        page = first_answer(proc, base + "/runs", time.monotonic() + 30)
        assert page.status_code == 503, page.text
        assert "no conveyor store at " in page.text and "conveyor migrate" in page.text
        for call in (httpx.get(base + "/api/runs", timeout=10),
                     httpx.post(base + "/api/jobs/tick/run", json={}, timeout=10)):
            assert call.status_code == 503, call.text
            assert call.json()["error"].startswith("no conveyor store at ")
        assert PASSWORD not in page.text + call.text
        assert not _created(missing_url)

        result = CliRunner().invoke(main, ["migrate", "--url", missing_url])
        assert result.exit_code == 0, result.output
        assert httpx.get(base + "/runs", timeout=10).status_code == 200
        assert httpx.get(base + "/api/runs", timeout=10).json()["runs"] == []
    finally:
        proc.send_signal(signal.SIGINT)
        _, stderr = proc.communicate(timeout=30)
    assert proc.returncode == 0, stderr
    assert "no conveyor store at " in stderr and PASSWORD not in stderr
    with Conveyor(missing_url) as app:  # reading only: the code's schedule was not saved
        assert app.store.list_schedules() == []


@pytest.mark.parametrize("kind", ["sqlite", "postgres"])
def test_a_mounted_dashboard_before_its_tables_exist_answers_503_then_serves(
    kind: str, request: pytest.FixtureRequest, tmp_path: Path,
) -> None:
    url = f"sqlite:///{tmp_path}/later.db" if kind == "sqlite" else request.getfixturevalue(
        "pg_url")
    with Conveyor(url, migrate=False) as app:
        app.job("tick")(lambda: None)
        client = TestClient(app.asgi(), base_url=BASE)
        page, api = client.get("/"), client.get("/api/overview")
        assert (page.status_code, api.status_code) == (503, 503)
        assert "conveyor migrate" in page.text and "conveyor migrate" in api.json()["error"]
        for path, body in (("/api/jobs/tick/run", {}), ("/api/events", {"name": "a.b"}),
                           ("/api/schedules/tick/pause", None), ("/api/queues/q/pause", None)):
            answer = client.post(path, json=body)  # not taken for bad input
            assert answer.status_code == 503, (path, answer.text)
        app.migrate()
        assert client.get("/").status_code == 200
        assert client.get("/api/overview").status_code == 200


@pytest.mark.postgres
def test_a_database_without_conveyor_tables_is_a_missing_store_until_an_app_opens_it(
    new_database: str,
) -> None:
    with read_only():
        app = Conveyor(new_database)
    with app:
        client = TestClient(create_app(app), base_url=BASE)
        page = client.get("/")
        assert page.status_code == 503 and "no conveyor store at " in page.text
        assert '<meta http-equiv="refresh"' in page.text  # it reloads by itself
        live = client.get("/", headers={"HX-Request": "true", "HX-Target": "live"})
        assert live.status_code == 503
        assert client.get("/static/style.css").status_code == 200
        assert not _created(new_database)
        Conveyor(new_database).close()  # opening an app creates the store
        assert client.get("/").status_code == 200
        assert client.get("/api/counts").status_code == 200
