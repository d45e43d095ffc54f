"""Blind probes across SPEC §1-5 and §8: sizes and magnitudes the stores must survive,
values stored and read back exactly; every store."""

from __future__ import annotations

import asyncio
import contextlib
import math
from collections.abc import Callable
from datetime import UTC, datetime, timedelta, timezone
from types import SimpleNamespace
from typing import Any

import pytest

from conveyor import (
    Conveyor,
    JobHandle,
    PayloadError,
    Retry,
    RetryIn,
)
from tests.acceptance.blind_core.support import (
    START,
    field,
    ok_or_value_error,
    record,
)
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
    assert handle.result(timeout=5) == handle.id
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
    assert past.result(timeout=5) == "ran"
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
    assert handle.result(timeout=1) == 7


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
    assert handle.result(timeout=5) == "finally"
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


def test_a_result_too_big_or_too_deep_fails_the_attempt(make: Callable[..., Conveyor]) -> None:
    app = make(max_payload=1_000, max_depth=4)

    @app.job
    def big() -> str:
        return "x" * 2_000

    @app.job
    def deep() -> Any:
        return [[[[["five"]]]]]

    handles = [big().run_now(), deep().run_now()]
    drain(app)
    for handle in handles:
        assert "PayloadError" in str(field(record(app, handle).error, "type"))


def test_over_long_log_lines_are_truncated_with_a_marker(app: Conveyor) -> None:
    @app.job
    def job(meta: Any) -> None:
        meta.log.info("L" * 3_000_000)
        meta.progress(0.1, message="M" * 3_000_000)

    handle = job().run_now()
    drain(app)
    rec = record(app, handle)
    assert rec.state == "completed"
    line = next(str(getattr(x, "message", x)) for x in rec.logs if "LLL" in str(
        getattr(x, "message", x)))
    assert 100 < len(line) < 3_000_000
    assert rec.progress_message is not None
    assert 100 < len(rec.progress_message) < 3_000_000
    assert rec.progress_message.startswith("MMM")
    name = app.send_event("n" * 1_000_000, {}).name
    assert name.startswith("nnn") and len(name) < 1_000_000


def test_long_keys_queues_owners_and_ids(app: Conveyor) -> None:
    with pytest.raises(ValueError):  # an id is indexed: a clear limit, at definition
        @app.job("j" + "é" * 3_000)
        def too_long() -> None: ...

    long_id = "j" + "é" * 200

    @app.job(long_id)
    def job(x: Any) -> str:
        return "ok"

    for option in ("key", "queue", "owner"):
        with pytest.raises(ValueError):
            job(0).run_now(**{option: "x" * 5_000})  # type: ignore[arg-type]
    assert app.count() == 0
    key, queue, owner = "k" * 300 + "ü", "q" * 200 + "🚚", "o" * 250 + "é"
    first = job(1).run_now(key=key, queue=queue, owner=owner, unique=True)
    again = job(2).run_now(key=key, queue=queue, owner=owner, unique=True)
    assert again.id == first.id
    rec = record(app, first)
    assert (rec.job, rec.key, rec.queue, rec.owner) == (long_id, key, queue, owner)
    drain(app, queues=[queue])
    assert first.result(timeout=5) == "ok"


def test_huge_option_values_are_stored_or_refused_clearly(app: Conveyor) -> None:
    @app.job
    def job() -> str:
        return "ran"

    options: list[dict[str, Any]] = [
        {"priority": 10**20}, {"priority": -(2**63)}, {"owner": 2**70}, {"owner": -1},
        {"timeout": 1e300}, {"retention": 1e300}, {"remove_delay": 1e300},
        {"retry": {"retries": 2**40}}]
    handles = [ok_or_value_error(lambda o=o: job().run_now(**o))  # type: ignore[misc]
               for o in options]
    stored = [h for h in handles if h is not None]
    assert app.count() == len(stored)
    drain(app)
    assert [h.result(timeout=5) for h in stored] == ["ran"] * len(stored)


def test_invalid_option_values_are_value_errors(app: Conveyor) -> None:
    @app.job
    def job() -> None: ...

    for option in [{"timeout": -1}, {"timeout": math.nan}, {"retention": -5},
                   {"remove_delay": "-1 day"}, {"priority": math.inf}]:
        with pytest.raises(ValueError):
            job().run_now(**option)  # type: ignore[arg-type]
    assert app.count() == 0


def test_absurd_retry_delays_never_break_the_worker(capp: Conveyor) -> None:
    @capp.job
    def fails() -> None:
        raise RuntimeError("fails")

    delays = {"negative": -5, "nan": math.nan, "inf": math.inf, "huge": 1e300}

    @capp.job
    def moves(delay: str) -> None:
        raise RetryIn(delays[delay])

    @capp.job
    def fine() -> str:
        return "fine"

    handles = [ok_or_value_error(lambda w=w: fails().run_now(  # type: ignore[misc]
        retry=Retry(retries=3, wait=w, backoff="exponential"))) for w in (1e15, 1e300)]
    handles += [moves(name).run_now() for name in delays]
    other = fine().run_now()
    drain(capp)
    assert other.result(timeout=5) == "fine"
    for handle in handles:
        if handle is not None:
            assert record(capp, handle).state in ("scheduled", "failed")


def test_progress_that_json_cannot_hold_never_breaks_the_run(app: Conveyor) -> None:
    @app.job
    def job(meta: Any) -> str:
        for value in (math.nan, math.inf, -1, 1e300):
            with contextlib.suppress(ValueError):
                meta.progress(value)
        return "done"

    handle = job().run_now()
    drain(app)
    assert handle.result(timeout=5) == "done"
    progress = record(app, handle).progress
    assert progress is None or (isinstance(progress, (int, float, dict)) and progress == progress)


def test_an_unknown_state_filter_is_a_value_error(app: Conveyor) -> None:
    for state in ["finished", "", "QUEUED ", "done"]:
        with pytest.raises(ValueError):
            app.count(state=state)
        with pytest.raises(ValueError):
            app.cancel_jobs(state=state)


def test_send_event_refuses_a_payload_json_cannot_hold(app: Conveyor) -> None:
    with pytest.raises(PayloadError):
        app.send_event("evt", {"x": {1, 2}})
    with pytest.raises(PayloadError):
        app.send_event("evt", {"x": "nul\x00"})


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
    assert handle.result(timeout=5) == "sent"
    assert got == [{"n": "üüü"}]


def test_a_task_result_json_cannot_hold_fails_the_run(app: Conveyor) -> None:
    @app.job
    async def flow(payload: Any, io: Any) -> Any:
        return await io.task("bad", lambda: {1, 2})

    handle = flow({}).run_now()
    drain(app)
    assert record(app, handle).state == "failed"
