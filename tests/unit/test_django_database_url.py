"""The store URL conveyor derives from a Django DATABASES entry reaches the same server
and database as Django does: Unix socket directories, IPv6 hosts and libpq OPTIONS."""

from __future__ import annotations

from typing import Any

import pytest
from psycopg.conninfo import conninfo_to_dict

from conveyor.contrib.django import url_of
from conveyor.stores.postgres.connection import Settings

PG = "django.db.backends.postgresql"


def _libpq(db: dict[str, Any]) -> dict[str, Any]:
    return conninfo_to_dict(Settings.parse(url_of(db), {}).conninfo)


@pytest.mark.parametrize(("host", "expected"), [
    ("/var/run/postgresql", "/var/run/postgresql"),
    ("::1", "::1"),
    ("db.example.com", "db.example.com"),
])
def test_the_host_reaches_libpq_as_django_gives_it(host: str, expected: str) -> None:
    got = _libpq({"ENGINE": PG, "NAME": "shop", "USER": "app", "HOST": host, "PORT": "6432"})
    assert (got["host"], got["port"], got["dbname"], got["user"]) == (
        expected, "6432", "shop", "app")


def test_no_host_is_libpq_default_and_options_are_kept() -> None:
    got = _libpq({"ENGINE": PG, "NAME": "shop", "USER": "app", "PASSWORD": "p@ss:/",
                  "OPTIONS": {"sslmode": "require", "application_name": "web",
                              "isolation_level": 1, "server_side_binding": True}})
    assert got["dbname"] == "shop" and got["password"] == "p@ss:/" and "host" not in got
    assert got["sslmode"] == "require" and got["application_name"] == "web"
    assert "isolation_level" not in got and "server_side_binding" not in got


@pytest.mark.parametrize("extra", [
    {"prepare_threshold": 5}, {"pool": {"min_size": 2}}, {"assume_role": "reader"},
    {"server_side_binding": True}, {"isolation_level": 3}, {"cursor_factory": object},
])
def test_only_libpq_keywords_of_options_reach_the_url(extra: dict[str, Any]) -> None:
    url = url_of({"ENGINE": PG, "NAME": "shop", "OPTIONS": {"sslmode": "disable", **extra}})
    assert url == "postgresql:///shop?sslmode=disable"
    assert _libpq({"ENGINE": PG, "NAME": "shop", "OPTIONS": extra}) == {"dbname": "shop"}


def test_sqlite_is_its_file(tmp_path: Any) -> None:
    url = url_of({"ENGINE": "django.db.backends.sqlite3", "NAME": str(tmp_path / "db.sqlite3")})
    assert url == f"sqlite:///{tmp_path / 'db.sqlite3'}"
