"""SPEC §1, §2 and §9: app options, job definitions and flow-control declarations,
each bad value a clear error; pause/resume and queue information on every store."""

from __future__ import annotations

from typing import Any

import pytest

from conveyor import ConfigurationError, Conveyor
from conveyor.testing import run_until_idle
from tests.acceptance.support import record_of


@pytest.mark.parametrize(
    "options",
    [
        {"lease": 0},
        {"lease": -1},
        {"lease": float("nan")},
        {"timezone": "Mars/Olympus"},
        {"retention": "forever and a day"},
        {"max_depth": 0},
        {"max_payload": -1},
    ],
)
def test_a_bad_app_option_is_a_clear_error(options: dict[str, Any]) -> None:
    with pytest.raises((ValueError, TypeError)):
        Conveyor("memory://", **options)


@pytest.mark.parametrize("url", ["mysql://x/y", "sqlite:", "nonsense", ""])
def test_a_bad_url_is_a_clear_error(url: str) -> None:
    with pytest.raises((ValueError, ConfigurationError)):
        Conveyor(url)


def test_opening_twice_on_one_store_is_idempotent(open_app: Any) -> None:
    """SQLite and PostgreSQL only: each ``memory://`` app is a store of its own."""
    first, make = open_app(), open_app

    @first.job("j")
    def j() -> int:
        return 1

    handle = j().run_now()
    second = make()
    assert record_of(second, handle.id).state == "queued"


def test_two_ids_with_one_slug_are_an_error(app: Conveyor) -> None:
    @app.job("Send Email")
    def one() -> None: ...

    with pytest.raises((ValueError, ConfigurationError)):

        @app.job("send-email")
        def two() -> None: ...


@pytest.mark.parametrize("bad", ["", "   ", "\x00", 5])
def test_a_bad_job_id_is_refused(app: Conveyor, bad: Any) -> None:
    with pytest.raises((ValueError, TypeError, ConfigurationError)):

        @app.job(bad)
        def j() -> None: ...


@pytest.mark.parametrize(
    "options",
    [
        {"priority": "urgent"},
        {"timeout": -3},
        {"version": "not semver"},
        {"concurrency": 0},
        {"concurrency": -2},
        {"rate": "100"},
        {"rate": "0/minute"},
        {"rate": "10/fortnight"},
        {"rate": "-1/second"},
        {"isolation": "thread-ish"},
    ],
)
def test_a_bad_definition_option_is_refused(app: Conveyor, options: dict[str, Any]) -> None:
    with pytest.raises((ValueError, TypeError, ConfigurationError)):

        @app.job("j", **options)
        def j() -> None: ...


def test_the_registry_gives_the_job_by_id_and_attribute(app: Conveyor) -> None:
    @app.job("retry-request", version="1.2.0", name="Retry it")
    def retry_request(x: int) -> int:
        return x * 2

    assert app.jobs["retry-request"] is app.jobs.retry_request
    handle = app.jobs["retry-request"](4).run_now()
    run_until_idle(app)
    assert handle.result(timeout=30) == 8
    assert record_of(app, handle.id).version == "1.2.0"
    with pytest.raises(KeyError):
        app.jobs["missing"]


def test_meta_jobs_triggers_other_jobs(app: Conveyor) -> None:
    @app.job("child")
    def child(x: int) -> int:
        return x + 1

    @app.job("parent")
    def parent(meta: Any) -> list[Any]:
        a = meta.jobs.child(1).run_now()
        b = meta.jobs["child"](2).run_in(0, "seconds")
        return [a.id, b.id]

    handle = parent().run_now()
    run_until_idle(app)
    ids = handle.result(timeout=30)
    assert [app.jobs_list(state="completed") and record_of(app, i).result for i in ids] == [2, 3]


@pytest.mark.parametrize(
    "limits",
    [{"concurrency": 0}, {"rate": "fast"}, {"rate": "5/decade"}, {"concurrency": -1}],
)
def test_a_bad_queue_declaration_is_refused(app: Conveyor, limits: dict[str, Any]) -> None:
    with pytest.raises((ValueError, TypeError, ConfigurationError)):
        app.queue("exports", **limits)


def test_queues_report_counts_limits_and_pauses(app: Conveyor) -> None:
    app.queue("exports", concurrency=5, rate="10/second")

    @app.job("export", queue="exports")
    def export() -> None: ...

    @app.job("plain")
    def plain() -> None: ...

    export().run_now()
    export().run_in(1, "hour")
    plain().run_now()
    app.pause(queue="exports")
    by_name = {q.name: q for q in app.queues()}
    exports = by_name["exports"]
    assert (exports.concurrency, exports.rate, exports.paused) == (5, "10/second", True)
    assert exports.counts.get("queued") == 1 and exports.counts.get("scheduled") == 1
    assert by_name["default"].paused is False and by_name["default"].concurrency is None
    run_until_idle(app)
    assert app.count(state="queued", queue="exports") == 1
    app.resume(queue="exports")
    run_until_idle(app)
    assert app.count(state="completed") == 2


def test_a_paused_job_is_not_claimed_and_survives_reopening(open_app: Any) -> None:
    app, make = open_app(), open_app

    @app.job("held")
    def held() -> int:
        return 1

    handle = held().run_now()
    app.pause(job="held")
    assert app.paused_jobs() == ["held"]
    run_until_idle(app)
    assert record_of(app, handle.id).state == "queued"
    other = make()
    assert other.paused_jobs() == ["held"]
    app.resume(job="held")
    assert app.paused_jobs() == []
    run_until_idle(app)
    assert record_of(app, handle.id).state == "completed"


def test_pausing_twice_and_resuming_an_unpaused_queue_are_harmless(app: Conveyor) -> None:
    app.pause(queue="q")
    app.pause(queue="q")
    app.resume(queue="q")
    app.resume(queue="q")
    app.resume(queue="never-paused")
    assert all(not q.paused for q in app.queues())


def test_concurrency_key_from_a_dotted_path_and_a_callable(app: Conveyor) -> None:
    @app.job("per-shop", concurrency=1, concurrency_key="shop.id")
    def per_shop(payload: dict[str, Any]) -> None: ...

    @app.job("per-user", concurrency=1, concurrency_key=lambda args, kwargs: f"u{kwargs['u']}")
    def per_user(u: int) -> None: ...

    a = per_shop({"shop": {"id": 7}}).run_now()
    b = per_user(u=3).run_now()
    assert str(record_of(app, a.id).concurrency_key) == "7"
    assert record_of(app, b.id).concurrency_key == "u3"
    run_until_idle(app)
    assert app.count(state="completed") == 2


def test_a_concurrency_limit_holds_jobs_back_without_failing_them(app: Conveyor) -> None:
    @app.job("one-at-a-time", concurrency=1)
    def one(meta: Any) -> int:
        return app.count(state="running")

    handles = [one().run_now() for _ in range(4)]
    app.run_worker(concurrency=4, burst=True)
    assert [h.result(timeout=30) for h in handles] == [1, 1, 1, 1]
