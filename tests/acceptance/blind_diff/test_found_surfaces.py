"""Regressions of the fixes the differential pass over the dashboard API and the CLI
(``test_surfaces``) found, each run on the memory, SQLite and PostgreSQL stores."""

from __future__ import annotations

from datetime import timedelta

from conveyor.testing import run_until_idle
from conveyor.testing.conformance.helpers import ManualClock
from tests.acceptance.blind_diff.conftest import Trio
from tests.acceptance.blind_diff.support import T0
from tests.acceptance.blind_diff.surfaces import cli, client


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
