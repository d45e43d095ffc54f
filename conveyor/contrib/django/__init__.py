"""Django: add ``"conveyor.contrib.django"`` to ``INSTALLED_APPS``.

Settings (all optional)::

    CONVEYOR = {
        "URL": "postgresql://...",   # default: the project's default database
        "APP": "myproject.jobs:app", # default: an app built here from URL
        "OPTIONS": {"lease": 30},    # Conveyor(...) keywords when conveyor builds the app
    }

* ``from conveyor.contrib.django import app`` (or ``get_app()``) is the project's app.
* Every installed app's ``jobs`` module is imported at start-up (define jobs there).
* ``python manage.py conveyor <verb>`` runs every ``conveyor`` command on it.
* On PostgreSQL and SQLite sharing Django's default database, a trigger inside
  ``transaction.atomic()`` is stored in that transaction: rolled back with it, and seen
  by workers only once it commits.
* ``path("jobs/", include("conveyor.contrib.django.urls"))`` serves the dashboard to
  staff users.
"""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING, Any
from urllib.parse import quote, urlencode

from conveyor.errors import ConfigurationError

if TYPE_CHECKING:
    from conveyor.app import Conveyor

_lock = threading.Lock()
_app: Conveyor | None = None


def settings_dict() -> dict[str, Any]:
    from django.conf import settings

    conf = getattr(settings, "CONVEYOR", None) or {}
    if not isinstance(conf, dict):
        raise ConfigurationError("settings.CONVEYOR must be a dict like {'URL': ..., 'APP': ...}")
    unknown = sorted(set(conf) - {"URL", "APP", "OPTIONS", "DATABASE"})
    if unknown:
        raise ConfigurationError(
            f"unknown settings.CONVEYOR key {unknown[0]!r}; accepted: APP, DATABASE, OPTIONS, URL"
        )
    return conf


def database_url(alias: str = "default") -> str:
    """The conveyor store URL of Django's database ``alias`` (PostgreSQL or SQLite)."""
    from django.conf import settings

    db = settings.DATABASES.get(alias)
    if not db:
        raise ConfigurationError(
            f"no database {alias!r} in settings.DATABASES; set CONVEYOR['URL']"
        )
    return url_of(db)


# libpq's connection keywords: the only OPTIONS the URL keeps (Django's own and psycopg's,
# such as pool or prepare_threshold, are not libpq's and its URL parser refuses them).
_LIBPQ = frozenset({"host", "hostaddr", "port", "dbname", "user", "password", "passfile",
    "require_auth", "channel_binding", "connect_timeout", "client_encoding", "options",
    "application_name", "fallback_application_name", "keepalives", "keepalives_idle",
    "keepalives_interval", "keepalives_count", "tcp_user_timeout", "replication",
    "gssencmode", "sslmode", "requiressl", "sslnegotiation", "sslcompression", "sslcert",
    "sslkey", "sslkeylogfile", "sslpassword", "sslcertmode", "sslrootcert", "sslcrl",
    "sslcrldir", "sslsni", "requirepeer", "ssl_min_protocol_version",
    "ssl_max_protocol_version", "min_protocol_version", "max_protocol_version",
    "krbsrvname", "gsslib", "gssdelegation", "service", "target_session_attrs",
    "load_balance_hosts", "oauth_issuer", "oauth_client_id", "oauth_client_secret",
    "oauth_scope"})


def url_of(db: dict[str, Any]) -> str:
    """The store URL of one ``settings.DATABASES`` entry: the same server and database
    Django connects to (a host that is a socket directory, an IPv6 address, libpq
    OPTIONS such as ``sslmode``)."""
    engine = str(db.get("ENGINE", ""))
    name = str(db.get("NAME") or "")
    if engine.endswith("sqlite3"):
        if not name or name == ":memory:" or name.startswith("file:"):
            raise ConfigurationError(
                "Django's SQLite database is in memory; set CONVEYOR['URL'] to a file or server"
            )
        from pathlib import Path

        return f"sqlite:///{Path(name).resolve()}"
    if "postgresql" in engine or "postgis" in engine:
        user = quote(str(db.get("USER") or ""), safe="")
        password = quote(str(db.get("PASSWORD") or ""), safe="")
        auth = f"{user}:{password}@" if password else (f"{user}@" if user else "")
        host, port = str(db.get("HOST") or ""), str(db.get("PORT") or "")
        query = {k: str(v) for k, v in (db.get("OPTIONS") or {}).items()
                 if k in _LIBPQ and isinstance(v, str | int | float)
                 and not isinstance(v, bool)}
        if host.startswith("/"):  # a socket directory: libpq takes it as ?host=
            query.update(host=host, **({"port": port} if port else {}))
            netloc = auth
        else:
            netloc = auth + (f"[{host}]" if ":" in host else host) + (f":{port}" if port else "")
        return f"postgresql://{netloc}/{quote(name, safe='')}" + (
            f"?{urlencode(query, quote_via=quote)}" if query else "")
    raise ConfigurationError(
        f"conveyor cannot share Django's {engine or 'unknown'} database; "
        "set CONVEYOR['URL'] to a sqlite:/// or postgresql:// URL"
    )


def get_app() -> Conveyor:
    """The project's conveyor app (built on first use from ``settings.CONVEYOR``)."""
    global _app
    with _lock:
        if _app is None:
            _app = _build()
        return _app


def _build() -> Conveyor:
    from conveyor.app import Conveyor
    from conveyor.contrib.django.transactions import install

    conf = settings_dict()
    alias = str(conf.get("DATABASE", "default"))
    url = conf.get("URL") or database_url(alias)
    spec = conf.get("APP")
    if spec:
        from conveyor.cli.loading import load_app

        app = load_app(str(spec), url)
    else:
        app = Conveyor(url, **(conf.get("OPTIONS") or {}))
    try:
        shared: str | None = database_url(alias)
    except ConfigurationError:  # Django's database is not one conveyor can share
        shared = None
    install(app, alias, shared)
    return app


def __getattr__(name: str) -> Any:
    if name == "app":
        return get_app()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = ["app", "database_url", "get_app"]
