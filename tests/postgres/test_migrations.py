"""Migrations: numbered files, advisory lock, upgrade equals fresh install, schemas."""

from __future__ import annotations

import os
import subprocess
import sys
from typing import Any

import pytest

from conveyor import Conveyor
from conveyor.errors import ConfigurationError
from conveyor.stores.base import Outcome
from conveyor.stores.postgres import PostgresStore
from conveyor.stores.postgres.migrations import available
from tests.postgres.helpers import ROOT, connect

pytestmark = pytest.mark.postgres


def catalog(url: str, schema: str) -> dict[str, Any]:
    """Everything a migration defines in ``schema``, with the schema name blanked out."""
    queries = {
        "columns": "SELECT table_name, column_name, data_type, column_default, is_nullable "
        "FROM information_schema.columns WHERE table_schema = %(s)s",
        "indexes": "SELECT indexname, indexdef FROM pg_indexes WHERE schemaname = %(s)s",
        "constraints": "SELECT conrelid::regclass::text, conname, pg_get_constraintdef(c.oid) "
        "FROM pg_constraint c JOIN pg_namespace n ON n.oid = c.connamespace "
        "WHERE n.nspname = %(s)s",
        "triggers": "SELECT event_object_table, trigger_name, action_statement, "
        "event_manipulation FROM information_schema.triggers WHERE trigger_schema = %(s)s",
        "functions": "SELECT p.proname, pg_get_functiondef(p.oid) FROM pg_proc p "
        "JOIN pg_namespace n ON n.oid = p.pronamespace WHERE n.nspname = %(s)s",
        "options": "SELECT c.relname, c.reloptions FROM pg_class c "
        "JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = %(s)s",
    }
    with connect(url) as conn:
        found = {
            name: sorted(
                tuple(str(v).replace(schema, "<schema>") for v in row)
                for row in conn.execute(sql.encode(), {"s": schema})
            )
            for name, sql in queries.items()
        }
    return found


def schema_of(url: str) -> str:
    return url.rsplit("schema=", 1)[1]


def test_migrate_applies_each_file_once_and_reports_it(pg_url: str) -> None:
    store = PostgresStore(pg_url)
    names = [name for name, _ in available()]
    assert names[0] == "0001_core"
    assert store.migrate() == names
    assert store.migrate() == []
    store.close()


@pytest.mark.parametrize("step", range(len(available())))
def test_upgraded_database_equals_a_fresh_one(pg_database: str, step: int) -> None:
    fresh_url = f"{pg_database}?schema=fresh_{os.getpid()}_{step}"
    old_url = f"{pg_database}?schema=upgraded_{os.getpid()}_{step}"
    fresh = PostgresStore(fresh_url)
    fresh.migrate()
    old = PostgresStore(old_url)
    old.migrate_to(step)  # a database created by an older release...
    old.migrate()  # ...upgraded by this one
    expected = catalog(fresh_url, schema_of(fresh_url))
    assert expected["columns"] and expected["indexes"] and expected["triggers"]
    assert catalog(old_url, schema_of(old_url)) == expected
    fresh.close()
    old.close()


MIGRATE = """
import sys
from conveyor.stores.base import Outcome
from conveyor.stores.postgres import PostgresStore
print(",".join(PostgresStore(sys.argv[1]).migrate()))
"""


def test_processes_starting_at_once_migrate_once(pg_url: str) -> None:
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    procs = [
        subprocess.Popen([sys.executable, "-c", MIGRATE, pg_url], cwd=ROOT, env=env,
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        for _ in range(4)
    ]
    outputs = [p.communicate(timeout=60) for p in procs]
    assert all(p.returncode == 0 for p in procs), [err for _, err in outputs]
    applied = sorted(out.strip() for out, _ in outputs)
    assert applied[:3] == ["", "", ""]
    assert applied[3].split(",") == [name for name, _ in available()]


def test_two_apps_in_two_schemas_of_one_database_do_not_see_each_other(
    pg_database: str,
) -> None:
    one = Conveyor(f"{pg_database}?schema=app_one_{os.getpid()}")
    two = Conveyor(pg_database, schema=f"app_two_{os.getpid()}")
    @one.job
    def ping() -> None: ...

    @two.job("ping")
    def ping_two() -> None: ...

    ping().run_now()
    ping().run_now()
    two.jobs["ping"]().run_now()
    assert (one.count(), two.count()) == (2, 1)
    one.close()
    two.close()


def test_bad_schema_names_and_options_are_refused_clearly() -> None:
    with pytest.raises(ConfigurationError, match="invalid PostgreSQL schema 'App-1'"):
        PostgresStore("postgresql://localhost/db?schema=App-1")
    with pytest.raises(ConfigurationError, match="unknown PostgreSQL store option 'pool'"):
        PostgresStore("postgresql://localhost/db", pool=3)
    # A query parameter neither conveyor nor libpq knows is a mistake in the URL, said
    # before any connection (it was "cannot reach PostgreSQL"), password hidden.
    with pytest.raises(ConfigurationError, match=r"invalid PostgreSQL URL 'postgresql://u:"
                       r"\[redacted\]@localhost/db\?pool=3': .*\"pool\"; accepted .*pool_size"):
        PostgresStore("postgresql://u:pw@localhost/db?pool=3")
    with pytest.raises(ConfigurationError, match="invalid pool_size 'many'"):
        PostgresStore("postgresql://localhost/db?pool_size=many")
    with pytest.raises(ConfigurationError, match="invalid pool_timeout nan"):
        PostgresStore("postgresql://localhost/db?pool_timeout=nan")


def test_every_store_option_may_be_given_in_the_url() -> None:
    """As $CONVEYOR_URL carries them; a keyword wins over the URL."""
    url = ("postgresql://localhost/db?schema=app1&pool_size=3&pool_timeout=2.5"
           "&connect_timeout=7&synchronous_commit=off&synchronous_complete=on&sslmode=prefer")
    settings = PostgresStore(url, pool_size=4).settings
    assert (settings.schema, settings.pool_size, settings.pool_timeout) == ("app1", 4, 2.5)
    assert (settings.connect_timeout, settings.synchronous_commit) == (7.0, "off")
    assert settings.synchronous_complete
    assert settings.conninfo == "postgresql://localhost/db?sslmode=prefer"  # libpq's own


def test_synchronous_commit_option_applies_to_every_connection(pg_url: str) -> None:
    store = PostgresStore(pg_url + "&options=-c%20work_mem%3D7MB", synchronous_commit=False)
    store.migrate()
    with store.db.connection() as conn:
        assert conn.execute("SHOW synchronous_commit").fetchone() == ("off",)
        assert conn.execute("SHOW work_mem").fetchone() == ("7MB",)  # URL options kept
    store.close()
    with pytest.raises(ConfigurationError, match="invalid synchronous_commit 'maybe'"):
        PostgresStore(pg_url, synchronous_commit="maybe")


def test_completions_skip_the_flush_wait_without_changing_the_session(pg_url: str) -> None:
    app = Conveyor(pg_url + "&synchronous_commit=on")  # every connection's session: on

    @app.job
    def ping() -> None: ...

    ping().run_now()
    store = app.store
    assert isinstance(store, PostgresStore)
    claimed = store.claim("w", None, 1, 30)
    assert store.complete([Outcome(claimed[0].id, claimed[0].token, "completed", 0.0)]) == 1
    with store.db.connection() as conn:
        assert conn.execute("SHOW synchronous_commit").fetchone() == ("on",)
    assert PostgresStore(pg_url + "&synchronous_complete=on").settings.synchronous_complete
    with pytest.raises(ConfigurationError, match="invalid synchronous_complete 'sometimes'"):
        PostgresStore(pg_url, synchronous_complete="sometimes")
    app.close()
