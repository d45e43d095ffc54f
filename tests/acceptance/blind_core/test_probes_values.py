"""Blind probes across SPEC §1-5 and §8: magnitudes the stores must survive, values
stored and read back exactly (sizes at and past their limits: test_probes_sizes); every
store."""

from __future__ import annotations

import asyncio
import math
from datetime import UTC, datetime, timedelta, timezone
from types import SimpleNamespace
from typing import Any

import pytest

from conveyor import Conveyor, JobHandle, PayloadError, Retry
from tests.acceptance.blind_core.support import START, field, record
from tests.conformance.helpers import ManualClock, drain


def test_default_url_comes_from_the_environment(tmp_path: Any,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "ünï cöde" / "env.db"
    path.parent.mkdir()
    monkeypatch.setenv("CONVEYOR_URL", f"sqlite:///{path}")
    with Conveyor() as app:
        @app.job
        def job() -> None: ...

        job().run_now()
    assert path.exists()


@pytest.mark.parametrize("options", [{"timezone": "Mars/Olympus_Mons"}, {"timezone": ""},
                                     {"lease": 0}, {"lease": -1}, {"lease": math.nan}],
                         ids=repr)
def test_bad_app_options_are_value_errors(options: dict[str, Any]) -> None:
    with pytest.raises(ValueError):
        Conveyor("memory://", **options)


def test_an_unknown_url_scheme_is_a_value_error() -> None:
    with pytest.raises(ValueError, match="mysql"):
        Conveyor("mysql://localhost/db")


def test_meta_job_is_this_record_and_unknown_jobs_are_lookup_errors(app: Conveyor) -> None:
    @app.job
    def me(meta: Any) -> Any:
        return meta.job.id

    handle = me().run_now()
    drain(app)
    assert handle.result(timeout=30) == handle.id
    assert getattr(app.jobs, "no_such_job", None) is None
    with pytest.raises(KeyError):
        app.jobs["no-such-job"]


def test_an_id_without_a_slug_is_refused(app: Conveyor) -> None:
    for job_id in ["", "!!!", "   "]:
        with pytest.raises(ValueError):
            @app.job(job_id)
            def job() -> None: ...


def test_include_cleanup_policy_applies_to_jobs_finished_before(capp: Conveyor,
                                                                clock: ManualClock) -> None:
    @capp.job("save-image/local")
    def save(data: Any) -> None: ...

    @capp.job
    def other() -> None: ...

    old = save({"p": 1}).run_now()
    bystander = other().run_now()
    drain(capp)
    capp.include(SimpleNamespace(cleanup=[{"type": "save-image/local", "purgeAfterDays": 2}]))
    clock.advance(days=1)
    capp.purge(expired=True)
    assert capp.get_job(old.id) is not None
    clock.advance(days=1, seconds=1)
    capp.purge(expired=True)
    assert capp.get_job(old.id) is None
    assert capp.get_job(bystander.id) is not None


def test_awaiting_a_handle_gives_it_back(app: Conveyor) -> None:
    @app.job
    def job() -> None: ...

    async def main() -> tuple[JobHandle, JobHandle]:
        handle = job().run_now()
        return handle, await handle

    first, second = asyncio.run(main())
    assert second.id == first.id


def test_run_in_beyond_the_calendar_is_a_value_error(app: Conveyor) -> None:
    @app.job
    def job() -> None: ...

    for n, unit in [(10_000, "years"), (1e12, "seconds"), (10**20, "milliseconds"),
                    (1e300, "weeks")]:
        with pytest.raises(ValueError):
            job().run_in(n, unit)
    assert app.count() == 0


def test_far_future_and_far_past_run_at(app: Conveyor) -> None:
    @app.job
    def job() -> str:
        return "ran"

    last = datetime(9999, 12, 31, 23, 59, 58, 500000, tzinfo=UTC)
    far = job().run_at(last.astimezone(timezone(timedelta(hours=-12))))
    past = job().run_at(datetime(1, 1, 2, tzinfo=timezone(timedelta(hours=14))))
    for beyond in (datetime(9999, 12, 31, 23, 59, 59, tzinfo=UTC),
                   datetime(9999, 12, 31, 23, 59, 59, 999999, tzinfo=UTC)):
        with pytest.raises(ValueError, match="9999"):  # not stored with its due time lost
            job().run_at(beyond)
    drain(app)
    assert (record(app, far).state, record(app, far).run_at) == ("scheduled", last)
    assert past.result(timeout=30) == "ran"
    assert app.count() == 2


def test_non_string_keys_are_refused_rather_than_changed(app: Conveyor) -> None:
    @app.job
    def job(x: Any) -> None: ...

    for payload in [{1: "int key"}, {None: 1}, {"a": {2.5: "x"}}]:
        with pytest.raises(PayloadError):
            job(payload).run_now()
    assert app.count() == 0


def test_cancel_jobs_data_matches_json_values_exactly(app: Conveyor) -> None:
    @app.job
    def job(x: Any) -> None: ...

    hits = [job({"n": 2**63, "flag": True, "none": None, "f": 0.1}).run_now()]
    misses = [job({"n": 2**63 + 1, "flag": True, "none": None, "f": 0.1}).run_now(),
              job({"n": 2**63, "flag": 1, "none": None, "f": 0.1}).run_now(),
              job({"n": 2**63, "flag": True, "f": 0.1}).run_now(),
              job({"n": 2**63, "flag": True, "none": None, "f": 0.1000001}).run_now()]
    assert app.cancel_jobs(data={"n": 2**63, "flag": True, "none": None, "f": 0.1}) == 1
    assert record(app, hits[0]).state == "cancelled"
    assert [record(app, h).state for h in misses] == ["queued"] * 4
    assert app.cancel_jobs(data={"flag": 1}) == 1


def test_cancel_jobs_data_with_nested_and_list_values(app: Conveyor) -> None:
    @app.job
    def job(x: Any) -> None: ...

    nested = job({"a": {"b": [1, "ü"]}, "c": []}).run_now()
    other = job({"a": {"b": [1]}, "c": []}).run_now()
    assert app.cancel_jobs(data={"a": {"b": [1, "ü"]}, "c": []}) == 1
    assert record(app, nested).state == "cancelled"
    assert record(app, other).state == "queued"


def test_cancel_of_a_finished_job_changes_nothing(app: Conveyor) -> None:
    @app.job
    def job() -> int:
        return 7

    handle = job().run_now()
    drain(app)
    app.cancel(handle.id)
    assert record(app, handle).state == "completed"
    assert handle.result(timeout=30) == 7


def test_reaction_retry_wait_is_in_milliseconds(capp: Conveyor, clock: ManualClock) -> None:
    def work(job: Any) -> None:
        job.fail("nope")

    capp.add_worker(type="ms-wait", worker=work)
    handle = capp.schedule_job(type="ms-wait", data={},
                               retry={"retries": 2, "wait": 1500, "backoff": "exponential"})
    drain(capp)
    assert record(capp, handle).run_at == START + timedelta(seconds=1.5)
    clock.advance(seconds=1.5)
    drain(capp)
    assert record(capp, handle).run_at == START + timedelta(seconds=4.5)


def test_cancel_repeats_cancels_pending_jobs_of_the_type(app: Conveyor) -> None:
    @app.job("repeat-me")
    def job(data: Any) -> None: ...

    old = app.schedule_job(type="repeat-me", data={"n": 1})
    new = app.schedule_job(type="repeat-me", data={"n": 2}, cancel_repeats=True)
    assert record(app, old).state == "cancelled"
    assert record(app, new).state == "queued"


def test_a_bad_crontab_is_a_value_error(app: Conveyor) -> None:
    @app.job
    def nightly(data: Any) -> None: ...

    for crontab in ["61 * * * *", "* * *", "", "every blue moon"]:
        with pytest.raises(ValueError):
            app.schedule_cron_job("nightly", crontab, data={})


def test_integer_priorities_order_runs(capp: Conveyor, clock: ManualClock) -> None:
    order: list[int] = []

    @capp.job
    def job(n: int) -> None:
        order.append(n)

    for n in (-5, 0, 1000, -1000, 7, 7):
        job(n).run_now(priority=n)
        clock.advance(microseconds=1)
    drain(capp, concurrency=1)
    assert order == [1000, 7, 7, 0, -5, -1000]


def test_a_task_with_retry_is_retried_inside_the_run(app: Conveyor) -> None:
    calls: list[int] = []

    def flaky() -> str:
        calls.append(1)
        if len(calls) < 3:
            raise RuntimeError("not yet")
        return "finally"

    @app.job
    async def flow(payload: Any, io: Any) -> Any:
        return await io.task("flaky", flaky, retry=Retry(retries=3, wait=0))

    handle = flow({}).run_now()
    drain(app)
    assert handle.result(timeout=30) == "finally"
    assert len(calls) == 3


def test_an_exception_whose_str_raises_is_still_stored(app: Conveyor) -> None:
    class Hostile(Exception):
        def __str__(self) -> str:
            raise RuntimeError("str failed")

    @app.job
    def job() -> None:
        raise Hostile()

    handle = job().run_now()
    drain(app)
    rec = record(app, handle)
    assert rec.state == "failed"
    assert "Hostile" in str(field(rec.error, "type"))


def test_an_unknown_state_filter_is_a_value_error(app: Conveyor) -> None:
    for state in ["finished", "", "QUEUED ", "done"]:
        with pytest.raises(ValueError):
            app.count(state=state)
        with pytest.raises(ValueError):
            app.cancel_jobs(state=state)


def test_io_send_event_is_sent_once_across_replays(capp: Conveyor, clock: ManualClock) -> None:
    got: list[Any] = []

    @capp.job("listener", trigger=capp.event("ping.ü"))
    async def listener(payload: Any, io: Any) -> None:
        got.append(payload)

    @capp.job
    async def sender(payload: Any, io: Any) -> str:
        await io.send_event("send-1", "ping.ü", {"n": "ü" * 3})
        await io.wait("pause", 1, "minute")
        return "sent"

    handle = sender({}).run_now()
    drain(capp)
    clock.advance(minutes=1)
    drain(capp)
    assert handle.result(timeout=30) == "sent"
    assert got == [{"n": "üüü"}]
