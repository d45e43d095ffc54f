"""SPEC §12 — conveyor.testing: inline, run_until_idle, FakeClock, enqueued and the
``conveyor_app`` pytest fixture."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import pytest

from conveyor import Conveyor, JobFailed, PayloadError, Retry
from conveyor.testing import FakeClock, enqueued, inline, run_until_idle

START = datetime(2033, 12, 31, 23, 50, tzinfo=UTC)


# -- inline -------------------------------------------------------------------------------------


def test_inline_runs_the_trigger_inside_the_call(app: Conveyor) -> None:
    seen: list[str] = []

    @app.job
    def greet(name: str) -> str:
        seen.append(name)
        return f"hello {name}"

    with inline(app):
        handle = greet("Zoë 🌍").run_now()
        assert seen == ["Zoë 🌍"]
        assert handle.result(timeout=0) == "hello Zoë 🌍"
    record = app.get_job(handle.id)
    assert record is not None and record.state == "completed"


def test_inline_runs_delayed_and_reaction_style_triggers_too(app: Conveyor) -> None:
    @app.job("echo-job")
    def echo(value: object) -> object:
        return value

    with inline(app):
        handles = [echo(1).run_in(3, "quarters"),
                   echo(2).run_at(datetime(2999, 1, 1, tzinfo=UTC)),
                   app.schedule_job(type="echo-job", data={"n": 3})]
    assert [h.result(timeout=0) for h in handles] == [1, 2, {"n": 3}]


def test_inline_failures_are_stored_as_in_a_real_run(app: Conveyor) -> None:
    @app.job
    def broken() -> None:
        raise LookupError("missing ключ")

    with inline(app):
        handle = broken().run_now()
    record = app.get_job(handle.id)
    assert record is not None and record.state == "failed"
    assert "missing ключ" in str(record.error)
    with pytest.raises(JobFailed):
        handle.result(timeout=0)


def test_inline_retries_as_in_a_real_run(app: Conveyor) -> None:
    @app.job(retry=Retry(retries=3, wait="1 hour", backoff="exponential"))
    def flaky(meta: object) -> int:
        if meta.attempt < 3:  # type: ignore[attr-defined]
            raise RuntimeError("not yet")
        return meta.attempt  # type: ignore[attr-defined]

    with inline(app):
        handle = flaky().run_now()
    assert handle.result(timeout=0) == 3
    record = app.get_job(handle.id)
    assert record is not None and record.attempts == 3


def test_inline_runs_jobs_triggered_by_jobs(app: Conveyor) -> None:
    order: list[str] = []

    @app.job("child-job")
    def child(n: int) -> None:
        order.append(f"child {n}")

    @app.job
    def parent(meta: object) -> None:
        order.append("parent")
        meta.jobs["child-job"](1).run_now()  # type: ignore[attr-defined]
        meta.jobs.child_job(2).run_now()  # type: ignore[attr-defined]

    with inline(app):
        parent().run_now()
    assert order == ["parent", "child 1", "child 2"] or sorted(order) == sorted(
        ["parent", "child 1", "child 2"])


async def test_inline_with_async_jobs_and_awaited_triggers(app: Conveyor) -> None:
    @app.job
    async def double(x: int) -> int:
        await asyncio.sleep(0)
        return 2 * x

    with inline(app):
        handle = await double(21).run_now()
    assert handle.result(timeout=0) == 42


def test_inline_skips_over_durable_waits(app: Conveyor) -> None:
    @app.job
    async def patient(payload: dict[str, int], io: object) -> int:
        await io.wait("cool-off", 3, "days")  # type: ignore[attr-defined]
        return payload["n"] + 1

    with inline(app):
        handle = patient({"n": 41}).run_now()
    assert handle.result(timeout=0) == 42


def test_inline_runs_the_jobs_an_event_starts_inside_send_event(app: Conveyor) -> None:
    @app.job(trigger=app.event("user.created", filter={"plan": ["pro"]}))
    def welcome(payload: dict[str, str]) -> str:
        return f"welcome {payload['email']}"

    @app.job
    async def onboarding(payload: dict[str, str], io: object) -> str:
        event = await io.wait_for_event("paid", "invoice.paid",  # type: ignore[attr-defined]
                                        filter={"user": [payload["user"]]})
        return f"paid {event['payload']['amount']}"

    with inline(app):
        waiting = onboarding({"user": "ann"}).run_now()
        assert app.get_job(waiting.id).state == "waiting"  # type: ignore[union-attr]
        sent = app.send_event("user.created", {"email": "a@x.io", "plan": "pro"})
        [run] = enqueued(app, job="welcome")
        assert sent.runs == [run.id] and (run.state, run.result) == ("completed", "welcome a@x.io")
        app.send_event("user.created", {"email": "b@x.io", "plan": "free"})  # no match
        later = datetime.now(UTC) + timedelta(days=1)
        app.send_event("invoice.paid", {"user": "ann", "amount": 5}, deliver_at=later)
        assert waiting.result(timeout=0) == "paid 5"
    assert len(enqueued(app, job="welcome")) == 1


def test_inline_blocks_nest_and_end_cleanly(app: Conveyor) -> None:
    @app.job
    def echo(n: int) -> int:
        return n

    with pytest.raises(RuntimeError), inline(app):
        raise RuntimeError("the test's own error")
    assert app.get_job(echo(0).run_now().id).state == "queued"  # type: ignore[union-attr]
    with inline(app):
        with inline(app):  # e.g. a fixture's block around the test's own
            assert echo(1).run_now().result(timeout=0) == 1
        assert echo(2).run_now().result(timeout=0) == 2  # the outer block still runs them
    assert app.get_job(echo(3).run_now().id).state == "queued"  # type: ignore[union-attr]


# -- run_until_idle ------------------------------------------------------------------------------


def test_run_until_idle_runs_what_is_due_and_leaves_what_is_not(app: Conveyor) -> None:
    @app.job
    def noop(n: int) -> int:
        return n

    due = [noop(n).run_now() for n in range(3)]
    later = noop(99).run_in(1, "hour")
    run_until_idle(app)
    assert [h.result(timeout=0) for h in due] == [0, 1, 2]
    assert app.get_job(later.id).state == "scheduled"  # type: ignore[union-attr]


def test_run_until_idle_includes_work_triggered_while_running(app: Conveyor) -> None:
    @app.job
    def countdown(n: int, meta: object) -> int:
        if n > 0:
            meta.jobs.countdown(n - 1).run_now()  # type: ignore[attr-defined]
        return n

    countdown(5).run_now()
    run_until_idle(app)
    assert app.count(state="completed") == 6


def test_run_until_idle_on_an_empty_store_returns(app: Conveyor) -> None:
    run_until_idle(app)
    assert app.count() == 0


async def test_run_until_idle_from_async_code(app: Conveyor) -> None:
    @app.job
    async def noop() -> str:
        return "done"

    handle = await noop().run_now()
    run_until_idle(app)
    assert await handle.wait(timeout=30) == "done"


# -- FakeClock -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("n", "unit", "delta"),
    [(1, "millisecond", timedelta(milliseconds=1)), (90, "seconds", timedelta(seconds=90)),
     (0.5, "minute", timedelta(seconds=30)), (2, "hours", timedelta(hours=2)),
     (1.25, "days", timedelta(days=1, hours=6)), (1, "week", timedelta(weeks=1)),
     (0, "seconds", timedelta(0))],
)
def test_fake_clock_advances_by_each_unit(
    sqlite_app: Conveyor, n: float, unit: str, delta: timedelta
) -> None:
    with FakeClock(sqlite_app, start=START) as clock:
        assert clock.now() == START
        clock.advance(n, unit)
        assert clock.now() == START + delta


@pytest.mark.parametrize(("unit", "expected"), [
    ("month", datetime(2034, 1, 31, 23, 50, tzinfo=UTC)),
    ("quarters", datetime(2034, 3, 31, 23, 50, tzinfo=UTC)),
    ("year", datetime(2034, 12, 31, 23, 50, tzinfo=UTC)),
])
def test_fake_clock_calendar_steps(sqlite_app: Conveyor, unit: str, expected: datetime) -> None:
    with FakeClock(sqlite_app, start=START) as clock:
        clock.advance(1, unit)
        assert clock.now() == expected


def test_fake_clock_refuses_bad_steps(sqlite_app: Conveyor) -> None:
    with FakeClock(sqlite_app, start=START) as clock:
        for n, unit in ((-1, "seconds"), (float("nan"), "days"), (1, "fortnights")):
            with pytest.raises(ValueError):
                clock.advance(n, unit)
        with pytest.raises(ValueError, match="time only moves forward"):
            clock.advance(timedelta(seconds=-1))
        assert clock.now() == START


def test_fake_clock_advances_by_a_timedelta(app: Conveyor) -> None:
    @app.job
    def later() -> str:
        return "later"

    with FakeClock(app, start=START) as clock:
        handle = later().run_in(90, "minutes")
        assert clock.advance(timedelta(hours=1)) == START + timedelta(hours=1)
        run_until_idle(app, clock=clock)
        assert app.get_job(handle.id).state == "scheduled"  # type: ignore[union-attr]
        clock.advance(timedelta(minutes=30))
        run_until_idle(app, clock=clock)
    assert handle.result(timeout=0) == "later"


def test_fake_clock_moves_delays_and_schedules(app: Conveyor) -> None:
    fired: list[datetime] = []

    @app.job(trigger=app.every("15 minutes"))
    def tick(meta: object) -> None:
        fired.append(clock.now())

    @app.job
    def later() -> str:
        return "later"

    clock = FakeClock(app, start=START)
    try:
        handle = later().run_in(10, "minutes")
        run_until_idle(app, clock=clock)
        assert fired == [] and app.get_job(handle.id).state == "scheduled"  # type: ignore[union-attr]
        clock.advance(10, "minutes")  # 00:00 of a new year: both due
        run_until_idle(app, clock=clock)
        assert handle.result(timeout=0) == "later"
        assert fired == [datetime(2034, 1, 1, tzinfo=UTC)]
        clock.advance(45, "minutes")
        run_until_idle(app, clock=clock)
        # a missed occurrence runs once, not once per miss
        assert len(fired) == 2
    finally:
        clock.stop()


def test_fake_clock_moves_durable_waits(app: Conveyor) -> None:
    @app.job
    async def patient(io: object) -> str:
        await io.wait("nap", 3, "days")  # type: ignore[attr-defined]
        return "awake"

    with FakeClock(app, start=START) as clock:
        handle = patient().run_now()
        run_until_idle(app, clock=clock)
        assert app.get_job(handle.id).state == "waiting"  # type: ignore[union-attr]
        clock.advance(2, "days")
        run_until_idle(app, clock=clock)
        assert app.get_job(handle.id).state == "waiting"  # type: ignore[union-attr]
        clock.advance(1, "day")
        run_until_idle(app, clock=clock)
    assert handle.result(timeout=0) == "awake"


def test_fake_clock_with_a_naive_start_under_utc(sqlite_app: Conveyor) -> None:
    with FakeClock(sqlite_app, start=datetime(2030, 5, 5, 5, 5)) as clock:
        assert clock.now() == datetime(2030, 5, 5, 5, 5, tzinfo=UTC)


# -- enqueued ------------------------------------------------------------------------------------


def test_enqueued_lists_stored_jobs_by_job_and_payload_subset(app: Conveyor) -> None:
    @app.job("send-mail")
    def send_mail(data: dict[str, object]) -> None: ...

    @app.job
    def by_kwargs(*, to: str, n: int = 0) -> None: ...

    send_mail({"to": "ä@example.com", "n": 1}).run_now()
    send_mail({"to": "b@example.com", "n": 2}).run_in(1, "day")
    by_kwargs(to="ä@example.com").run_now()
    assert len(enqueued(app)) == 3
    assert len(enqueued(app, "send-mail")) == 2
    assert len(enqueued(app, send_mail)) == 2
    assert [r.args for r in enqueued(app, "send-mail", to="ä@example.com")] == [
        [{"to": "ä@example.com", "n": 1}]]
    assert len(enqueued(app, to="ä@example.com")) == 2
    assert enqueued(app, "send-mail", to="nobody") == []
    assert enqueued(app, "no-such-job") == []


def test_queries_name_a_job_by_id_or_by_its_function(app: Conveyor) -> None:
    @app.job("retry-request")
    def retry_request(url: str) -> None: ...

    @app.job
    def other() -> None: ...

    handles = [retry_request("a").run_now(), retry_request("b").run_now(), other().run_now()]
    assert [r.id for r in app.jobs_list(job=retry_request, newest_first=False)] == [
        h.id for h in handles[:2]]
    assert app.count(job=[retry_request, "other"]) == 3
    assert app.cancel_jobs(type=retry_request, data="b") == 1
    assert [r.args for r in app.jobs_list(job=retry_request, state="queued")] == [["a"]]


@pytest.mark.parametrize("value", [
    10**30, -(2**63) - 1, 1e308, 0.1 + 0.2, True, None, "", "ünï 😀", [1, [2]], {"a": {"b": 1}},
])
def test_enqueued_matches_odd_but_valid_values_alike_on_every_store(app: Conveyor,
                                                                    value: object) -> None:
    @app.job
    def keep(data: dict[str, object]) -> None: ...

    keep({"n": value, "other": 1}).run_now()
    keep({"n": "something else"}).run_now()
    [found] = enqueued(app, keep, n=value)
    assert found.args == [{"n": value, "other": 1}]


@pytest.mark.parametrize(("value", "problem"), [
    ("a\x00b", "NUL"), ("\ud800", "surrogate"), (float("nan"), "nan"), ({1, 2}, "set"),
])
def test_a_payload_subset_no_payload_can_hold_is_one_clear_error(app: Conveyor, value: object,
                                                                 problem: str) -> None:
    @app.job
    def keep(data: dict[str, object]) -> None: ...

    keep({"n": "x"}).run_now()
    for query in (lambda: enqueued(app, keep, n=value),
                  lambda: app.jobs_list(data={"n": value}),
                  lambda: app.cancel_jobs(data={"n": value})):
        with pytest.raises(PayloadError, match=rf'data\["n"\].*{problem}'):
            query()
    assert app.count(state="queued") == 1


# -- the pytest plugin ---------------------------------------------------------------------------


def test_conveyor_app_fixture_is_a_memory_app(conveyor_app: Conveyor) -> None:
    assert isinstance(conveyor_app, Conveyor)

    @conveyor_app.job
    def noop() -> str:
        return "ok"

    handle = noop().run_now()
    run_until_idle(conveyor_app)
    assert handle.result(timeout=0) == "ok"
    assert "memory" in str(getattr(conveyor_app, "url", "memory://"))
