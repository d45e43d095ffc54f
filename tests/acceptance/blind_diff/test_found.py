"""Examples of what the differential pass found the stores disagreeing on, each run on
the memory, SQLite and PostgreSQL stores and checked against what SPEC says."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from conveyor import Conveyor, Retry
from conveyor.testing import run_until_idle
from conveyor.testing.conformance.helpers import ManualClock
from tests.acceptance.blind_diff.conftest import Trio
from tests.acceptance.blind_diff.support import T0


def _job(app: Conveyor) -> Any:
    @app.job
    def work(payload: Any = None, **kwargs: Any) -> None: ...

    return work


def test_the_payload_reads_back_as_given_keys_in_order_numbers_as_written(trio: Trio) -> None:
    """SPEC §4: the payload is the single positional argument (else the keyword
    arguments); it was read from PostgreSQL's jsonb column, keys reordered (shortest
    first) and 1e300 turned into an int."""
    given = {"value": [1e300, 1e16, 1.0], "fail": 0, "tag": {"zz": 1, "a": -0.0}}
    for app in trio.open():
        work = _job(app)
        work(given).run_now()
        work(b=1, a=2.0).run_now()
        app.schedule_job(type="work", data={"zz": 1, "a": 2}, schedule="every day")
        found = [repr(r.payload) for r in app.jobs_list(newest_first=False)]
        assert found == [repr(given), repr({"b": 1, "a": 2.0}), repr({"zz": 1, "a": 2})]
        assert [repr(r.payload) for r in app.jobs_list(data={"fail": 0})] == [repr(given)]


def test_text_search_ignores_the_case_of_any_letter(trio: Trio) -> None:
    """SPEC §7 runs filtered by text: ``text="é"`` found ``"Élan"`` on PostgreSQL (ILIKE
    folds every letter) but not on SQLite, whose LIKE folds ASCII letters only."""
    for app in trio.open():
        work = _job(app)
        for word in ("Élan", "élan", "STRASSE", "Straße", "ÅNGSTRÖM", "plain"):
            work({"word": word}).run_now(key=word)

        def found(text: str, app: Conveyor = app) -> list[str | None]:
            return sorted(r.key or "" for r in app.jobs_list(text=text))

        assert found("é") == found("É") == found("ÉLAN") == ["Élan", "élan"]
        assert found("straße") == ["Straße"]  # lower case, not case folding (ß is not ss)
        assert found("ångström") == found("Ångström") == ["ÅNGSTRÖM"]
        assert found("PLAIN") == ["plain"]
        assert app.count(text="ÉlAn") == 2


def test_attempt_history_keeps_microseconds(trio: Trio) -> None:
    """SPEC §4 history (number, started_at, finished_at, error): SQLite wrote the times
    of an attempt into its JSON history with 15 digits, so an attempt of a job waiting
    for its retry read back as finished a microsecond before it started (PostgreSQL kept
    them)."""
    clock = ManualClock(T0 + timedelta(microseconds=1))
    for app in trio.open(clock=clock):

        @app.job(retry=Retry(retries=1, wait=30))
        def flaky() -> None:
            raise ValueError("boom")

        handle = flaky().run_now()
        run_until_idle(app)
        first = app.get_job(handle.id)
        assert first is not None and first.state == "scheduled"
        assert [(a.started_at, a.finished_at) for a in first.history] == [(clock.at, clock.at)]
    clock.advance(seconds=30.000003)
    for app in trio.opened_apps():
        run_until_idle(app)
        (last,) = app.jobs_list()
        assert last.state == "failed"
        assert [(a.started_at, a.finished_at) for a in last.history] == [
            (T0 + timedelta(microseconds=1),) * 2, (clock.at, clock.at)]
        assert app.retry(last.id)
        again = app.get_job(last.id)
        assert again is not None and again.history[-1].finished_at == clock.at


def test_text_search_reads_the_payload_as_stored_on_every_store(trio: Trio) -> None:
    """SPEC §7 runs filtered by text: PostgreSQL also searched its jsonb copy of the
    payload, which jsonb writes with spaces (``{"plan": 1}``), so ``text=" "`` or
    ``text='": 1'`` found the job there and not on SQLite; every store now searches the
    arguments' JSON only, written alike."""
    for app in trio.open():
        work = _job(app)
        work({"plan": 1, "ids": [1, 2]}).run_now()
        work(plan=2).run_now()
        counts = [app.count(text=t) for t in (" ", '": 1', ", ", '"plan":1', "[1,2]", "plan")]
        assert counts == [0, 0, 0, 1, 1, 2]


def test_cancel_jobs_matching_a_job_and_its_dependent_cancels_both_plainly(trio: Trio) -> None:
    """SPEC §4/§10: ``cancel_jobs()`` matching a job and the job that depends on it cancels
    both as asked. SQLite's row trigger cancelled the dependent first as a dependency
    failure (DependencyFailed naming the other run) before the statement reached it;
    PostgreSQL, whose triggers run after the statement, left it a plain cancel."""
    for app in trio.open():
        work = _job(app)
        first = work(1).run_now()
        second = work(2).run_now(depends_on=[first])
        later = work(3).run_in(1, "hour")
        assert app.cancel_jobs() == 3
        records = [app.get_job(h.id) for h in (first, second, later)]
        assert [(r.state, r.error) for r in records if r is not None] == [
            ("cancelled", None)] * 3


def test_replace_cancelling_a_job_and_its_dependent_cancels_both_plainly(trio: Trio) -> None:
    """SPEC §3 ``replace=True`` cancels every pending job of the id, a blocked dependent
    included: on SQLite the row trigger cancelled that dependent first as a dependency
    failure (DependencyFailed), as in ``cancel_jobs``; on PostgreSQL it was a plain cancel."""
    for app in trio.open():
        work = _job(app)
        first = work(1).run_now()
        blocked = work(2).run_now(depends_on=[first])
        work(3).run_now(replace=True)
        records = [app.get_job(h.id) for h in (first, blocked)]
        assert [(r.state, r.error) for r in records if r is not None] == [
            ("cancelled", None)] * 2
