"""Opening an app: URLs, $CONVEYOR_URL, the default file, options, closing (SPEC §1)."""

from __future__ import annotations

import os
import sqlite3
from datetime import timedelta
from pathlib import Path

import pytest

from conveyor import ConfigurationError, Conveyor, StoreError
from conveyor.stores.sqlite.schema import MIGRATIONS
from tests.support import store_url


def _schema_version(path: Path) -> int:
    with sqlite3.connect(path) as conn:
        return int(conn.execute("PRAGMA user_version").fetchone()[0])


def test_opening_a_sqlite_url_creates_the_file_and_its_schema(tmp_path: Path) -> None:
    path = tmp_path / "jobs.db"
    with Conveyor(f"sqlite:///{path}") as app:
        assert app.url == f"sqlite:///{path}"
        assert app.count() == 0
    assert path.exists()
    assert _schema_version(path) == len(MIGRATIONS)


def test_a_relative_sqlite_path_is_relative_to_the_working_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "var").mkdir()
    with Conveyor("sqlite:///var/jobs.db"):
        pass
    assert (tmp_path / "var" / "jobs.db").exists()


def test_the_url_comes_from_conveyor_url_when_not_given(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "from-env.db"
    monkeypatch.setenv("CONVEYOR_URL", f"sqlite:///{path}")
    with Conveyor() as app:
        assert app.url == f"sqlite:///{path}"
    assert path.exists()


def test_an_explicit_url_wins_over_conveyor_url(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CONVEYOR_URL", "sqlite:///never-created.db")
    with Conveyor("memory://") as app:
        assert app.url == "memory://"


def test_the_default_is_conveyor_db_in_the_working_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("CONVEYOR_URL", raising=False)
    monkeypatch.chdir(tmp_path)
    with Conveyor() as app:
        assert app.url == "sqlite:///conveyor.db"
    assert (tmp_path / "conveyor.db").exists()


def test_jobs_persist_in_the_file_across_apps(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/jobs.db"
    with Conveyor(url) as first:
        job = first.job("persisted")(lambda: None)
        job_id = job().run_in(1, "hour").id
    with Conveyor(url) as second:
        record = second.get_job(job_id)
        assert record is not None and record.job == "persisted"


def test_memory_stores_are_private_to_each_app() -> None:
    with Conveyor("memory://") as a, Conveyor("memory://") as b:
        a.job("x")(lambda: None)().run_now()
        assert (a.count(), b.count()) == (1, 0)


@pytest.mark.parametrize("url", ["conveyor.db", "", "mysql://localhost/db", "redis://x"])
def test_a_bad_url_is_refused_listing_the_accepted_forms(url: str) -> None:
    with pytest.raises(ConfigurationError) as info:
        Conveyor(url or "nonsense")
    message = str(info.value)
    assert "sqlite:///" in message and "memory://" in message and "postgresql://" in message


@pytest.mark.parametrize("url", ["sqlite:///", "sqlite:///:memory:"])
def test_a_sqlite_url_without_a_file_is_refused(url: str) -> None:
    with pytest.raises(ConfigurationError, match=r"give a file path, e\.g\. sqlite:///conveyor\.db"):
        Conveyor(url)


def test_a_sqlite_file_in_a_missing_folder_is_created_with_it(tmp_path: Path) -> None:
    with Conveyor(f"sqlite:///{tmp_path}/missing/dir/jobs.db") as app:
        assert app.count() == 0
    assert (tmp_path / "missing" / "dir" / "jobs.db").is_file()


def test_a_sqlite_folder_that_cannot_be_created_is_a_store_error(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("")
    with pytest.raises(StoreError, match="file/dir' does not exist"):
        Conveyor(f"sqlite:///{tmp_path}/file/dir/jobs.db")


def test_a_sqlite_file_in_a_read_only_folder_is_a_store_error(tmp_path: Path) -> None:
    folder = tmp_path / "locked"
    folder.mkdir(mode=0o500)
    try:
        if os.access(folder, os.W_OK):
            pytest.skip("running as a user who may write anywhere (root)")
        with pytest.raises(StoreError, match="not writable"):
            Conveyor(f"sqlite:///{folder}/jobs.db")
    finally:
        folder.chmod(0o700)


def test_a_corrupt_sqlite_file_is_a_store_error(tmp_path: Path) -> None:
    path = tmp_path / "corrupt.db"
    path.write_bytes(b"this is not a database, just some text " * 200)
    with pytest.raises(StoreError, match="corrupt or not a database"):
        Conveyor(f"sqlite:///{path}")


@pytest.mark.parametrize(("lease", "seconds"), [
    (5, 5.0), (0.5, 0.5), ("2 minutes", 120.0), (timedelta(seconds=90), 90.0),
])
def test_lease_accepts_seconds_text_or_timedelta(lease: object, seconds: float) -> None:
    with Conveyor("memory://", lease=lease) as app:  # type: ignore[arg-type]
        assert app.lease == seconds


def test_lease_defaults_to_30_seconds() -> None:
    with Conveyor("memory://") as app:
        assert app.lease == 30.0


@pytest.mark.parametrize("lease", [0, -1, 0.01, "soon", None])
def test_a_bad_lease_is_refused(lease: object) -> None:
    with pytest.raises(ConfigurationError, match="lease"):
        Conveyor("memory://", lease=lease)  # type: ignore[arg-type]


def test_timezone_defaults_to_utc_and_accepts_iana_names() -> None:
    with Conveyor("memory://") as utc_app, Conveyor("memory://", timezone="Asia/Tokyo") as tokyo:
        assert (utc_app.timezone, tokyo.timezone) == ("UTC", "Asia/Tokyo")
    for spelling in ("utc", "Utc", " UTC "):  # as a schedule's tz= takes it
        with Conveyor("memory://", timezone=spelling) as app:
            assert app.timezone == "UTC"


@pytest.mark.parametrize("tz", ["Mars/Olympus", "", "+02:00"])
def test_an_unknown_timezone_is_refused(tz: str) -> None:
    with pytest.raises(ConfigurationError, match=r"unknown timezone .*IANA name like 'UTC'"):
        Conveyor("memory://", timezone=tz)


def test_retention_sets_the_default_for_finished_jobs() -> None:
    with Conveyor("memory://", retention="7 days") as app:
        assert app.retention == 7 * 86400
    with Conveyor("memory://") as app:
        assert app.retention is None


def test_a_bad_retention_is_refused() -> None:
    with pytest.raises(ConfigurationError, match="invalid retention"):
        Conveyor("memory://", retention="whenever")


def test_with_closes_the_app(tmp_path: Path) -> None:
    with Conveyor(f"sqlite:///{tmp_path}/a.db") as app:
        assert app.count() == 0
    with pytest.raises(StoreError, match="closed"):
        app.count()


async def test_async_with_closes_the_app(tmp_path: Path) -> None:
    async with Conveyor(f"sqlite:///{tmp_path}/a.db") as app:
        assert isinstance(app, Conveyor)
        assert app.count() == 0
    with pytest.raises(StoreError, match="closed"):
        app.count()


def test_close_releases_the_connection(tmp_path: Path) -> None:
    app = Conveyor(f"sqlite:///{tmp_path}/a.db")
    app.close()
    with pytest.raises(StoreError, match="closed"):
        app.count()


def test_migrate_is_idempotent(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/m.db"
    with Conveyor(url, migrate=False) as app:
        assert app.migrate() == [name for name, _ in MIGRATIONS]
        assert app.migrate() == []
    with Conveyor(url) as again:
        assert again.migrate() == []


@pytest.mark.parametrize("kind", ["sqlite", "postgres"])
def test_a_store_without_its_schema_says_to_migrate(
    kind: str, request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    with Conveyor(store_url(kind, request, tmp_path), migrate=False) as app:
        @app.job
        def task() -> None: ...

        for use in (lambda: task().run_now(), lambda: app.send_event("user.created")):
            with pytest.raises(StoreError, match=r"no conveyor schema there yet .*migrate"):
                use()  # on PostgreSQL also its functions (conveyor_now()) are missing
        app.migrate()
        assert task().run_now().id


def test_a_missing_postgres_driver_says_what_to_install(monkeypatch: pytest.MonkeyPatch) -> None:
    import sys

    for name in [m for m in sys.modules if m.startswith("conveyor.stores.postgres")]:
        monkeypatch.delitem(sys.modules, name)
    monkeypatch.setitem(sys.modules, "psycopg", None)
    with pytest.raises(ConfigurationError, match=r"pip install 'conveyor\[postgres\]'"):
        Conveyor("postgresql://user@127.0.0.1/db")
