"""Shared fixtures: every conformance test runs on memory, SQLite and PostgreSQL.

PostgreSQL tests use a fresh database per test session (dropped afterwards, without
waiting) and a schema of their own per test: a new one (``pg_url``), or for a test that
only needs an empty store (``store_url``, ``pg_store``) one an earlier test left as
migrated, emptied (``tests/schemas.py``). When ``CI`` is set a missing server FAILS the tests;
on a developer's machine they are skipped with the reason.
"""

from __future__ import annotations

import importlib
import itertools
import os
import sys
import uuid
from collections.abc import Callable, Iterator

import pytest
from hypothesis import HealthCheck, settings

from tests.schemas import SchemaPool
from tests.support import drop_database_later, fail_in_ci_else_skip
from tests.support import store_url as _store_url

PG_ADMIN_URL = os.environ.get("CONVEYOR_TEST_PG", "postgresql://postgres@127.0.0.1:5432/postgres")
STORES = ("memory", "sqlite", "postgres")
_schema_ids = itertools.count(1)

# Hypothesis examples count, their time does not: no per-example deadline and no "too slow"
# health check, which a loaded two-core CI machine (or pytest-xdist) would trip at random.
# A test's own @settings still sets its max_examples. Under CI the examples are the same on
# every run (a gate must not fail on a commit for inputs it never tried before); on a
# developer's machine each run explores new ones.
settings.register_profile(
    "conveyor", deadline=None, suppress_health_check=[HealthCheck.too_slow],
    derandomize=bool(os.environ.get("CI")),
)
settings.load_profile("conveyor")


def pytest_configure(config: pytest.Config) -> None:
    """conveyor's pytest plugin (the ``conveyor_app`` fixture) comes from its ``pytest11``
    entry point; a checkout installed before the entry point existed loads it here."""
    if not config.pluginmanager.has_plugin("conveyor"):
        config.pluginmanager.register(
            importlib.import_module("conveyor.testing.plugin"), "conveyor"
        )


#: Modules with tests of 15 s and more on a busy machine (several subprocesses, or long
#: property runs): run first, so that no xdist worker starts one when the others are done.
LONG_FIRST = (
    "tests/integrations/test_django.py", "tests/cli/test_readme.py",
    "tests/conformance/test_model.py", "tests/conformance/test_bulk_paths.py",
    "tests/dashboard/test_missing_store.py", "tests/cli/test_loading.py",
    "tests/acceptance/blind_f/test_cli_process.py", "tests/acceptance/blind_diff/test_stateful.py",
)


@pytest.hookimpl(tryfirst=True)  # before -m selects by marker
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Multi-process tests (``slow``) are also ``serial``: ``make test`` runs them alone,
    after the rest ran on four pytest-xdist workers, because their deadlines assume the
    machine is not shared with another test process. The browser tests stay together on
    one xdist worker (``--dist loadgroup``): one Chromium, launched once. The modules of
    ``LONG_FIRST`` come first (the same order in every xdist worker)."""
    for item in items:
        if item.get_closest_marker("slow") and not item.get_closest_marker("serial"):
            item.add_marker(pytest.mark.serial)
        if item.get_closest_marker("browser"):
            item.add_marker(pytest.mark.xdist_group("browser"))
    items.sort(key=lambda item: item.nodeid.split("::")[0] not in LONG_FIRST)


def _pg_unavailable(reason: str) -> None:
    fail_in_ci_else_skip(
        f"PostgreSQL is required in CI but unavailable: {reason}",
        f"PostgreSQL unavailable: {reason}",
    )


@pytest.fixture(scope="session")
def pg_database() -> Iterator[str]:
    """A fresh PostgreSQL database for this test session; yields its URL."""
    try:
        import psycopg
    except ImportError as exc:  # pragma: no cover - dev installs include it
        _pg_unavailable(f"psycopg is not installed ({exc})")
    name = f"conveyor_test_{os.getpid()}_{uuid.uuid4().hex[:6]}"
    try:
        with psycopg.connect(PG_ADMIN_URL, autocommit=True, connect_timeout=5) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
            # No test crashes this server, so its commits need not wait for the disk: a
            # fifth less time for PostgreSQL tests (conveyor's own settings still apply).
            conn.execute(f'ALTER DATABASE "{name}" SET synchronous_commit = off')
    except Exception as exc:
        _pg_unavailable(str(exc).strip().splitlines()[0] if str(exc) else repr(exc))
    base = PG_ADMIN_URL.rsplit("/", 1)[0]
    yield f"{base}/{name}"
    drop_database_later(PG_ADMIN_URL, name)


@pytest.fixture
def pg_url(pg_database: str) -> str:
    """A URL on the session database with a schema of its own for this test (not created
    yet)."""
    return f"{pg_database}?schema=t{os.getpid()}_{next(_schema_ids)}"


@pytest.fixture(scope="session")
def pg_schemas(pg_database: str) -> Iterator[SchemaPool]:
    pool = SchemaPool(pg_database)
    yield pool
    pool.close()


@pytest.fixture
def pg_store(pg_schemas: SchemaPool) -> Iterator[str]:
    """A URL on an empty PostgreSQL store of this test's own: a schema an earlier test
    left as migrated (emptied since), or a new one."""
    url = pg_schemas.take()
    yield url
    pg_schemas.give_back(url)


@pytest.fixture(params=STORES)
def store_url(request: pytest.FixtureRequest, tmp_path: object) -> str:
    """The URL of an empty store of each kind."""
    if request.param == "postgres":
        return str(request.getfixturevalue("pg_store"))
    return _store_url(request.param, request, tmp_path)


@pytest.fixture
def new_app(store_url: str) -> Iterator[Callable[..., object]]:
    """Opens apps (with the given Conveyor options) on an empty store of each kind; the
    conformance suite's way to ask for options (conveyor.testing.conformance)."""
    from conveyor import Conveyor

    opened: list[Conveyor] = []

    def make(**options: object) -> Conveyor:
        opened.append(Conveyor(store_url, **options))  # type: ignore[arg-type]
        return opened[-1]

    yield make
    for application in opened:
        application.close()


@pytest.fixture
def app(store_url: str) -> Iterator[object]:
    """A Conveyor app on an empty store of each kind (closed afterwards)."""
    from conveyor import Conveyor

    application = Conveyor(store_url, lease=2)
    yield application
    application.close()


@pytest.fixture(autouse=True)
def _reap_worker_processes() -> Iterator[None]:
    """Worker processes a failed test left running are killed as it ends: an orphan would
    poll its store for the rest of the run, loading the machine under every later test."""
    yield
    helpers = sys.modules.get("tests.process.helpers")
    if helpers is not None:
        helpers.reap()
