"""Blind probes across SPEC §1-5 and §8: retention, purges and what SPEC leaves open (events
and durable steps: test_probes_events_and_steps); every store."""

from __future__ import annotations

import asyncio
import re
import threading
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import pytest

import conveyor
from conveyor import Conveyor, JobFailed, PayloadError, Retry
from tests.acceptance.blind_core.support import (
    START,
    field,
    in_threads,
    killed_while_running,
    record,
)
from tests.conformance.helpers import ManualClock, drain


def test_close_twice_is_harmless(make: Callable[..., Conveyor]) -> None:
    app = make()
    app.close()
    app.close()


def test_unique_with_no_key_matches_any_pending_job_of_the_id(app: Conveyor) -> None:
    @app.job
    def job(n: int) -> None: ...

    keyed = job(1).run_now(key="a")
    assert job(2).run_now(unique=True).id == keyed.id
    assert app.count() == 1


def test_unique_and_replace_together_is_a_value_error(app: Conveyor) -> None:
    @app.job
    def job() -> None: ...

    with pytest.raises(ValueError):
        job().run_now(key="k", unique=True, replace=True)
    assert app.count() == 0


def test_retention_covers_cancelled_and_remove_delay_only_completed(
        make: Callable[..., Conveyor], clock: ManualClock) -> None:
    app = make(clock=clock, retention="1 day")

    @app.job
    def job(fail: bool) -> None:
        if fail:
            raise ValueError("x")

    failed = job(True).run_now(remove_delay="1 hour", retention="30 days")
    completed = job(False).run_now()
    cancelled = job(False).run_in(1, "hour")
    app.cancel(cancelled.id)
    drain(app)
    clock.advance(hours=2)
    app.purge(expired=True)
    assert app.get_job(failed.id) is not None
    assert app.get_job(completed.id) is not None
    clock.advance(days=1)
    assert app.purge(expired=True) == 2
    assert app.get_job(cancelled.id) is None
    assert app.get_job(completed.id) is None
    assert app.get_job(failed.id) is not None


def test_purge_on_demand_by_state(app: Conveyor) -> None:
    @app.job
    def job(fail: bool) -> None:
        if fail:
            raise ValueError("x")

    failed, completed, pending = (job(True).run_now(), job(False).run_now(),
                                  job(False).run_in(1, "day"))
    drain(app)
    assert app.purge(state="failed") == 1
    assert app.get_job(failed.id) is None
    assert app.get_job(completed.id) is not None
    assert app.purge() == 1
    assert app.get_job(pending.id) is not None


def test_every_stored_time_comes_from_the_given_clock(capp: Conveyor) -> None:
    @capp.job
    def job(meta: Any) -> None:
        meta.log.warning("ü")
        raise ValueError("x")

    handle = job().run_now()
    drain(capp)
    rec = record(capp, handle)
    assert rec.created_at == rec.run_at == rec.started_at == rec.finished_at == START
    assert [field(a, "started_at") for a in rec.history] == [START]
    assert [x.at for x in rec.logs] == [START]


def test_job_failed_carries_the_stored_error(app: Conveyor) -> None:
    @app.job
    def job() -> None:
        raise PermissionError("dénied")

    handle = job().run_now()
    drain(app)
    with pytest.raises(JobFailed) as caught:
        handle.result()
    assert caught.value.error is not None
    assert field(caught.value.error, "message") == field(record(app, handle).error, "message")


def test_payload_error_names_the_offending_value(app: Conveyor) -> None:
    class Unstorable:
        def __repr__(self) -> str:
            return "<Unstorable ü>"

    @app.job
    def job(x: Any) -> None: ...

    with pytest.raises(PayloadError, match=re.escape('payload["deep"][0]["x"] is an Unstorable')):
        job({"deep": [{"x": Unstorable()}]}).run_now()


def test_default_limits_on_results(app: Conveyor) -> None:
    def nest(levels: int) -> Any:
        value: Any = 0
        for _ in range(levels):
            value = {"k": value}
        return value

    @app.job
    def result(kind: str) -> Any:
        return {"deep64": nest(63), "deep65": nest(66), "big": "x" * (2 * 1024 * 1024),
                "half": "y" * (512 * 1024)}[kind]

    handles = {kind: result(kind).run_now() for kind in ("deep64", "deep65", "big", "half")}
    drain(app)
    states = {kind: record(app, h).state for kind, h in handles.items()}
    assert states == {"deep64": "completed", "deep65": "failed", "big": "failed",
                      "half": "completed"}


def test_version_must_be_semver(app: Conveyor) -> None:
    for version in ("banana", "1.2", "v1.2.3", ""):
        with pytest.raises(ValueError):
            @app.job(f"job-{len(version)}-{version}", version=version)
            def job() -> None: ...


def test_a_job_longer_than_its_lease_runs_once(make: Callable[..., Conveyor]) -> None:
    app = make(lease=2)  # not 1: a loaded 2-core CI box may delay a heartbeat by a second
    runs: list[int] = []

    @app.job
    def long(meta: Any) -> str:
        runs.append(meta.attempt)
        threading.Event().wait(4.2)  # more than two leases
        return "done"

    handle = long().run_now()
    drain(app)
    assert handle.result(timeout=30) == "done"
    assert runs == [1]
    assert record(app, handle).attempts == 1


def test_acting_on_unknown_ids_and_types(app: Conveyor) -> None:
    assert app.cancel_jobs(type="never-defined") == 0
    assert not app.cancel(987_654_321)
    assert not app.retry(987_654_321)


def test_ids_sharing_a_slug_are_refused_whatever_the_spelling(app: Conveyor) -> None:
    spellings = ["Ünïcode Job", "unicode-job", "ünïcode_job", "UNICODE JOB", "unicode--job",
                 " unicode job "]
    taken: dict[str, str] = {}
    for n, spelling in enumerate(spellings):
        slug = conveyor.slugify(spelling)
        if slug in taken:
            with pytest.raises(ValueError):
                app.job(spelling)(lambda: None)
        else:
            def fn() -> None: ...

            fn.__name__ = f"fn{n}"
            app.job(spelling)(fn)
            taken[slug] = spelling
    assert len(taken) >= 1


def test_unwritable_numbers_and_cycles_are_payload_errors(app: Conveyor) -> None:
    @app.job
    def job(x: Any) -> None: ...

    cycle: list[Any] = []
    cycle.append(cycle)
    loop: dict[str, Any] = {}
    loop["self"] = loop
    for bad in (10**5000, cycle, loop, {"k": [1, {"\ud800": 1}]}):
        with pytest.raises(PayloadError):
            job(bad).run_now()
    job(10**400).run_now()
    assert app.count() == 1


def test_triggers_in_async_code_are_stored_however_they_are_written(app: Conveyor) -> None:
    @app.job
    def job(n: int) -> int:
        return n

    async def consume(handle: Any) -> Any:
        return handle

    async def main() -> list[Any]:
        plain = job(1).run_now()
        listed = [job(n).run_now() for n in (2,)]
        nested = await consume(job(3).run_now())
        direct = await job(4).run_now()
        later = job(5).run_in(1, "ms")
        gathered = await asyncio.gather(job(6).run_now(), job(7).run_now())
        chosen = await (job(8).run_now() if plain else job(0).run_now())
        awaited_later = await later
        return [plain, *listed, nested, direct, awaited_later, *gathered, chosen]

    handles = asyncio.run(main())
    ids = [getattr(h, "id", None) for h in handles]
    assert all(isinstance(i, int) for i in ids), ids
    assert sorted(record(app, i).args[0] for i in ids) == [1, 2, 3, 4, 5, 6, 7, 8]
    assert app.count() == 8


def test_awaited_triggers_raise_at_once_on_bad_input(app: Conveyor) -> None:
    @app.job
    def job(x: Any) -> None: ...

    async def main() -> None:
        with pytest.raises(ValueError):
            await job(1).run_in(-1, "seconds")
        with pytest.raises(PayloadError):
            await job({1, 2}).run_now()
        with pytest.raises(PayloadError):
            job({"nul": "\x00"}).run_now()

    asyncio.run(main())
    assert app.count() == 0


def test_a_job_whose_worker_is_killed_is_rescued_and_retried(store_url: str,
                                                              tmp_path: Any) -> None:
    if store_url.startswith("memory"):
        pytest.skip("a memory store lives only in its process")
    with Conveyor(store_url, lease=1) as app:
        @app.job
        def stuck(name: str, meta: Any) -> int:
            return int(meta.attempt)

        kept, replaced = stuck("kept").run_now(key="a"), stuck("replaced").run_now(key="b")
        killed_while_running(store_url, tmp_path, app, ["kept", "replaced"])
        assert stuck("again").run_now(key="a", unique=True).id == kept.id
        replacement = stuck("new").run_now(key="b", replace=True)
        drain(app)
        rec = record(app, kept)
        assert (rec.state, rec.result, rec.attempts) == ("completed", 2, 2)
        assert field(rec.history[0], "error") is not None
        assert record(app, replaced).state == "cancelled"
        assert replacement.result(timeout=30) == 1


def test_bad_limits_and_retention_options_are_value_errors() -> None:
    for options in ({"retention": "forever and ever"}, {"retention": -1},
                    {"max_depth": 0}, {"max_depth": -3}, {"max_payload": 0},
                    {"max_payload": -1}):
        with pytest.raises(ValueError):
            Conveyor("memory://", **options)


def test_scheduling_a_type_no_one_defined_is_one_clear_error(app: Conveyor) -> None:
    """SPEC is silent on types this app does not define; conveyor refuses them at trigger
    time (a typo is caught at once) rather than storing them for another process."""
    with pytest.raises(KeyError, match="handled-elsewhere"):
        app.schedule_job(type="handled-elsewhere", data={"ü": 1})
    assert app.count() == 0
    seen: list[Any] = []
    app.add_worker(type="handled-elsewhere", worker=lambda job: seen.append(job.data))
    app.schedule_job(type="handled-elsewhere", data={"ü": 1})
    drain(app)
    assert seen == [{"ü": 1}]


def test_many_writers_at_once_lose_nothing(store_url: str, make: Callable[..., Conveyor]) -> None:
    shared = store_url.startswith(("sqlite", "postgres"))
    apps = [make() for _ in range(1)]
    apps += [Conveyor(store_url) for _ in range(3)] if shared else apps * 3
    try:
        for a in dict.fromkeys(apps):  # the memory store: one app, written from 4 threads
            @a.job("write")
            def write(n: int) -> int:
                return n

        def burst(i: int) -> list[int]:
            return [apps[i].jobs["write"](i * 100 + n).run_now().id for n in range(30)]

        results = in_threads(4, burst)
        assert not [r for r in results if isinstance(r, BaseException)], results
        assert len({i for r in results for i in r}) == 120
        drain(apps[0], concurrency=8)
        assert apps[0].count(state="completed") == 120
    finally:
        for a in apps[1:] if shared else []:
            a.close()


def test_schedule_cron_job_stores_its_next_occurrence(capp: Conveyor,
                                                     clock: ManualClock) -> None:
    got: list[Any] = []

    @capp.job("nightly-ü")
    def nightly(data: Any) -> None:
        got.append(data)

    handle = capp.schedule_cron_job("nightly-ü", "0 3 * * *", data={"shop": "ü"}, owner="u9")
    rec = record(capp, handle)
    assert (rec.job, rec.state, rec.owner) == ("nightly-ü", "scheduled", "u9")
    assert rec.run_at == datetime(2031, 2, 1, 3, 0, tzinfo=UTC)
    clock.at = rec.run_at
    drain(capp)
    assert got == [{"shop": "ü"}]


def test_logs_and_history_follow_the_attempts(app: Conveyor) -> None:
    @app.job
    def job(meta: Any) -> str:
        meta.log.info(f"attempt {meta.attempt}")
        if meta.attempt < 3:
            raise RuntimeError(f"fail {meta.attempt}")
        return "third time"

    handle = job().run_now(retry=Retry(retries=5, wait=0))
    drain(app)
    rec = record(app, handle)
    assert [(x.attempt, x.message) for x in rec.logs] == [
        (1, "attempt 1"), (2, "attempt 2"), (3, "attempt 3")]
    assert [field(a, "error") is None for a in rec.history] == [False, False, True]
    assert rec.error is None or "fail 2" in str(field(rec.error, "message"))
    assert (rec.attempts, rec.max_attempts, rec.result) == (3, 6, "third time")
