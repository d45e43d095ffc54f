"""The example Django project end to end, on SQLite and on PostgreSQL: triggers inside
and outside ``transaction.atomic()`` (a rollback drops the job), ``manage.py conveyor``
verbs, ``manage.py conveyor worker --burst`` running jobs that use the ORM, and the
dashboard in urls.py for staff only."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import PG_ADMIN_URL
from tests.support import ROOT, drop_database_later, fail_in_ci_else_skip

# Each test starts several subprocesses (each imports conveyor and more): minutes in
# all on a CI machine at load 16, past the default 120 s timeout.
pytestmark = pytest.mark.timeout(600)

pytest.importorskip("django")
PROJECT = ROOT / "examples" / "django_project"

# One shell process for both checks (each manage.py start sets Django up again).
CHECKS = """
from orders.models import Order
print("RECEIPTS", sorted(o.number for o in Order.objects.filter(receipt_sent=True)))
from django.contrib.auth.models import User
from django.test import Client
anonymous = Client().get("/jobs/")
assert anonymous.status_code == 302 and "/admin/login/" in anonymous["Location"], anonymous
staff = User.objects.create_user("ops", password="pw", is_staff=True)
client = Client()
client.force_login(staff)
page = client.get("/jobs/")
assert page.status_code == 200, page.status_code
text = page.content.decode()
assert 'href="/jobs/static/style.css"' in text and 'href="/jobs/runs' in text, text[:500]
assert client.get("/jobs/static/htmx.min.js").status_code == 200
runs = client.get("/jobs/api/runs").json()
print("RUNS", len(runs["runs"] if isinstance(runs, dict) else runs))
import re
form = client.get("/jobs/jobs/send_receipt").content.decode()
token = re.search(r'name="csrf_token" value="([^"]+)"', form).group(1)
posted = client.post("/jobs/jobs/send_receipt/run", {"payload": "3", "csrf_token": token},
                     HTTP_ORIGIN="http://testserver", HTTP_SEC_FETCH_SITE="same-origin")
assert posted.status_code == 303, (posted.status_code, posted.content[:300])
assert re.fullmatch(r"/jobs/runs/\\d+", posted["Location"]), posted["Location"]
print("POSTED", posted["Location"])
"""


@pytest.fixture(params=["sqlite", "postgres"])
def database(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[dict[str, str]]:
    if request.param == "sqlite":
        yield {"SHOP_SQLITE": str(tmp_path / "shop.sqlite3")}
        return
    try:
        import psycopg

        name = f"conveyor_django_{os.getpid()}_{uuid.uuid4().hex[:6]}"
        with psycopg.connect(PG_ADMIN_URL, autocommit=True, connect_timeout=5) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
    except Exception as exc:
        fail_in_ci_else_skip(f"PostgreSQL is required in CI: {exc}",
                             f"PostgreSQL unavailable: {exc}")
    host_part = PG_ADMIN_URL.split("@", 1)[1].rsplit("/", 1)[0]
    host, _, port = host_part.partition(":")
    user = PG_ADMIN_URL.split("//", 1)[1].split("@", 1)[0].split(":")[0]
    yield {"SHOP_PG_NAME": name, "SHOP_PG_HOST": host, "SHOP_PG_PORT": port or "5432",
           "SHOP_PG_USER": user}
    drop_database_later(PG_ADMIN_URL, name)


def json_lines(text: str) -> list[dict[str, object]]:
    return [json.loads(line) for line in text.splitlines() if line.strip()]


def manage(env: dict[str, str], *args: str) -> str:
    full = {k: v for k, v in os.environ.items()
            if not k.startswith(("CONVEYOR_", "SHOP_", "DJANGO_"))}
    full.update(env, PYTHONPATH=f"{ROOT}:{PROJECT}", COLUMNS="200")
    done = subprocess.run([sys.executable, "manage.py", *args], cwd=PROJECT, env=full,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, f"manage.py {' '.join(args)}:\n{done.stdout}\n{done.stderr}"
    return done.stdout


def test_django_project_end_to_end(database: dict[str, str]) -> None:
    manage(database, "migrate", "-v", "0")
    inside = int(manage(database, "place_order", "1"))
    rolled_back = int(manage(database, "place_order", "2", "--rollback"))
    outside = int(manage(database, "place_order", "3", "--outside"))
    listed = json_lines(manage(database, "conveyor", "runs", "--json"))
    ids = {run["id"] for run in listed}
    assert inside in ids and outside in ids and len(ids) == 2
    assert rolled_back not in ids or rolled_back == outside  # SQLite may reuse the id
    assert "send_receipt" in manage(database, "conveyor", "jobs")
    manage(database, "conveyor", "worker", "--burst")
    done = json_lines(manage(database, "conveyor", "runs", "--state", "completed", "--json"))
    assert sorted(int(str(r["id"])) for r in done) == sorted([inside, outside])
    assert sorted(str(r["payload"]) for r in done) == ["1", "3"]
    checked = manage(database, "shell", "-c", CHECKS)
    assert "RECEIPTS [1, 3]" in checked.splitlines()
    assert "RUNS 2" in checked and "POSTED /jobs/runs/" in checked


def test_manage_py_conveyor_user_error_is_one_line(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("CONVEYOR_", "SHOP_", "DJANGO_"))}
    env.update(SHOP_SQLITE=str(tmp_path / "s.sqlite3"), PYTHONPATH=f"{ROOT}:{PROJECT}")
    done = subprocess.run([sys.executable, "manage.py", "conveyor", "run", "nope"],
                          cwd=PROJECT, env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode != 0
    assert done.stderr.startswith("error:") and "Traceback" not in done.stderr


# Django's psycopg-only OPTIONS next to a libpq one: Django and conveyor both connect.
SHARED_OPTIONS = """
import django, os, sys
from django.conf import settings
settings.configure(INSTALLED_APPS=["conveyor.contrib.django"], USE_TZ=True, DATABASES={
    "default": {"ENGINE": "django.db.backends.postgresql", "NAME": os.environ["SHOP_PG_NAME"],
                "HOST": os.environ["SHOP_PG_HOST"], "PORT": os.environ["SHOP_PG_PORT"],
                "USER": os.environ["SHOP_PG_USER"],
                "OPTIONS": {"sslmode": "disable", "prepare_threshold": 5}}})
django.setup()
from django.db import connection
connection.ensure_connection()
from conveyor.contrib.django import database_url, get_app
app = get_app()
app.job("ping")(lambda n: n + 1)
done = app.jobs["ping"](1).run_now()
app.run_worker(burst=True)
print(database_url(), done.result())
"""


@pytest.mark.parametrize("database", ["postgres"], indirect=True)
def test_psycopg_only_options_do_not_reach_the_store_url(database: dict[str, str]) -> None:
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("CONVEYOR_", "SHOP_", "DJANGO_"))}
    env.update(database, PYTHONPATH=str(ROOT))
    done = subprocess.run([sys.executable, "-c", SHARED_OPTIONS], env=env,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    url, result = done.stdout.split()
    assert url.endswith("?sslmode=disable") and result == "2"
