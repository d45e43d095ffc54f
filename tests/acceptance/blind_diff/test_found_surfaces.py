"""Regressions of the fixes the differential pass over the dashboard API and the CLI
(``test_surfaces``) found, each run on the memory, SQLite and PostgreSQL stores."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import psycopg
import pytest

from conveyor import Conveyor
from conveyor.testing import run_until_idle
from conveyor.testing.conformance.helpers import ManualClock
from tests.acceptance.blind_diff.conftest import Trio
from tests.acceptance.blind_diff.support import T0
from tests.acceptance.blind_diff.surfaces import cli, client
from tests.conftest import PG_ADMIN_URL
from tests.support import drop_database_later


def test_the_overview_counts_throughput_on_the_apps_clock(trio: Trio) -> None:
    """SPEC §1 ``clock=`` replaces the clock in every time decision, and the overview
    shows recent throughput: its window was counted back from this host's clock, so runs
    finished on the app's clock (years away) never showed, and the buckets moved with
    the real minute (three stores read at a minute's turn disagreed)."""
    clock = ManualClock(T0)
    for app in trio.open(clock=clock):

        @app.job(retry=None)
        def step(fail: bool) -> None:
            if fail:
                raise ValueError("no")

        step(False).run_now()
        step(True).run_now()
        run_until_idle(app)
        with client(app) as c:
            buckets = c.get("/api/overview").json()["throughput"]
        assert buckets[-1] == {"at": T0.isoformat(), "completed": 1, "failed": 1}
        assert sum(b["completed"] + b["failed"] for b in buckets) == 2


def test_purge_older_than_counts_back_from_the_apps_clock(trio: Trio) -> None:
    """``conveyor purge --older-than`` counted back from this host's clock: on an app
    whose clock is ahead it purged runs created a minute ago, and runs a week old on a
    clock behind were kept."""
    for app in trio.open():
        clock = ManualClock(T0)
        app.use_clock(clock)

        @app.job
        def step() -> None:
            pass

        step().run_now()
        clock.advance(seconds=3600)
        step().run_now()
        run_until_idle(app)
        clock.advance(seconds=60)
        code, _, err = cli(app, "purge", "--older-than", "30 minutes")
        assert (code, err) == (0, "")
        assert [r.created_at for r in app.jobs_list()] == [T0 + timedelta(seconds=3600)]


class Unhappy(Exception):
    pass


def test_an_attempts_error_reads_back_with_its_keys_in_order(trio: Trio) -> None:
    """``show --json`` and the run detail list each attempt's error; on PostgreSQL (whose
    jsonb history keeps no key order) its keys read back as type, module, message,
    traceback, elsewhere in the order the worker wrote them."""
    for app in trio.open():

        @app.job(retry=None)
        def sad() -> None:
            raise Unhappy("é")

        sad().run_now()
        run_until_idle(app)
        record = app.jobs_list()[0]
        assert [list(record.error or {}), list(record.history[0].error or {})] == [
            ["type", "message", "traceback", "module"]] * 2
        _, [shown], _ = cli(app, "show", str(record.id), "--json")
        assert list(shown["history"][0]["error"]) == list(record.error or {})


@pytest.fixture
def english_pg() -> Iterator[str]:
    """A URL on a new PostgreSQL database whose text sorts as English does (ICU en-US:
    "a" before "B"), where the session's sorts by code point ("B" before "a")."""
    name = f"conveyor_icu_{os.getpid()}_{uuid.uuid4().hex[:6]}"
    with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
        conn.execute(f"CREATE DATABASE {name} TEMPLATE template0 LOCALE_PROVIDER icu "
                     "ICU_LOCALE 'en-US' LOCALE 'C.UTF-8'")
    yield f"{PG_ADMIN_URL.rsplit('/', 1)[0]}/{name}"
    drop_database_later(PG_ADMIN_URL, name)


def test_schedules_and_events_list_in_one_order_whatever_the_collation(
        tmp_path: Path, english_pg: str) -> None:
    """The schedules list (by id) and events sent at one instant (newest first: the last
    sent first) were ordered by the database's collation on PostgreSQL: on an
    English-collated database "a" came before "B", where SQLite and memory (and a "C"
    database) put "B" first, so ``schedules --json`` and the dashboard's lists differed
    by store. Events at one instant no longer depend on their ids at all."""
    shown = []
    for url in ["memory://", f"sqlite:///{tmp_path}/c.db", english_pg]:
        with Conveyor(url, clock=ManualClock(T0)) as app:

            @app.job
            def step(payload: object = None) -> None:
                pass

            for key in ("a", "B", "é", "E"):
                app.schedule_job(type="step", data={}, schedule="every day", key=key)
                app.send_event("signed.up", {}, id=key)
            with client(app) as c:
                shown.append([[s["id"] for s in c.get("/api/schedules").json()["schedules"]],
                              [e["id"] for e in c.get("/api/events").json()["events"]]])
    assert shown[0][1] == ["E", "é", "B", "a"]
    assert shown[1] == shown[0] and shown[2] == shown[0], shown
