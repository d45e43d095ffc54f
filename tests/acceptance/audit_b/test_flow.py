"""SPEC §9 flow control on both stores: concurrency keys (dotted path, callable) stored on
the record, per-key limits, job and queue rates measured on the app's clock, limit
options refused with what is accepted, and ``queues()`` / ``paused_jobs()`` shapes."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from conveyor import Conveyor, QueueInfo
from conveyor.testing import FakeClock


@pytest.fixture
def clock(app: Conveyor) -> FakeClock:
    return FakeClock(app, start=datetime(2027, 6, 1, tzinfo=UTC))


def test_a_dotted_concurrency_key_is_stored_on_the_record(app: Conveyor) -> None:
    @app.job(concurrency=1, concurrency_key="shop.id")
    def sync_shop(payload: Any) -> Any:
        return payload["shop"]["id"]

    keyed = [sync_shop({"shop": {"id": v}}).run_now() for v in ("ünï 📦", 0, 7)]

    assert [app.get_job(h.id).concurrency_key for h in keyed] == ["ünï 📦", "0", "7"]
    app.run_worker(concurrency=3, burst=True)
    assert [h.result(timeout=30) for h in keyed] == ["ünï 📦", 0, 7]


def test_a_callable_concurrency_key_is_evaluated_at_trigger_time(app: Conveyor) -> None:
    @app.job(concurrency=1, concurrency_key=lambda args, kwargs: f"{kwargs['region']}/✓")
    def deploy(region: str, build: int) -> str:
        return f"{region}:{build}"

    handle = deploy(region="eu-ouest", build=0).run_now()

    assert app.get_job(handle.id).concurrency_key == "eu-ouest/✓"
    app.run_worker(burst=True)
    assert handle.result(timeout=30) == "eu-ouest:0"


@pytest.mark.parametrize("options, word", [
    ({"concurrency": 0}, "concurrency"), ({"concurrency": -3}, "concurrency"),
    ({"concurrency": 1.5}, "concurrency"), ({"concurrency": "2"}, "concurrency"),
    ({"rate": "0/minute"}, "rate"), ({"rate": "10/fortnight"}, "rate"),
    ({"rate": "ten/minute"}, "rate"), ({"rate": "-1/second"}, "rate"), ({"rate": 10}, "rate"),
    ({"concurrency_key": ""}, "concurrency_key"), ({"concurrency_key": 3}, "concurrency_key"),
])
def test_bad_limits_are_refused_at_definition_saying_what_is_accepted(
        sqlite_app: Conveyor, options: dict, word: str) -> None:
    with pytest.raises(ValueError, match=word) as caught:
        @sqlite_app.job(**options)
        def limited() -> None: ...
    assert "accepted" in str(caught.value)
    with pytest.raises(ValueError, match="accepted"):
        sqlite_app.queue("q", **{k: v for k, v in options.items() if k != "concurrency_key"}
                         or {"rate": "x"})


@pytest.mark.parametrize("rate, per_window, window", [("3/second", 3, 1), ("1/hour", 1, 3600),
                                                      ("2/day", 2, 86400)])
def test_a_job_rate_starts_at_most_n_per_window(app: Conveyor, clock: FakeClock, rate: str,
                                                per_window: int, window: int) -> None:
    @app.job(rate=rate)
    def ping(n: int) -> int:
        return n

    handles = [ping(n).run_now() for n in range(per_window * 2 + 1)]
    done = []
    for _ in range(3):
        app.run_worker(concurrency=10, burst=True)
        done.append(sum(app.get_job(h.id).state == "completed" for h in handles))
        clock.advance(window + 1, "seconds")

    assert done == [per_window, 2 * per_window, 2 * per_window + 1]


def test_a_queue_rate_and_concurrency_are_declared_and_listed(
        app: Conveyor, clock: FakeClock) -> None:
    app.queue("éxports 📦", concurrency=2, rate="2/minute")

    @app.job(queue="éxports 📦")
    def export(n: int) -> int:
        return n

    handles = [export(n).run_now() for n in range(3)]
    app.run_worker(concurrency=5, burst=True)

    [info] = [q for q in app.queues() if q.name == "éxports 📦"]
    assert isinstance(info, QueueInfo)
    assert (info.concurrency, info.rate, info.paused) == (2, "2/minute", False)
    assert info.counts == {"completed": 2, "queued": 1}
    assert all(isinstance(n, int) for n in info.counts.values())
    clock.advance(61, "seconds")
    app.run_worker(burst=True)
    assert all(app.get_job(h.id).state == "completed" for h in handles)


def test_pause_of_an_undeclared_unicode_queue_persists(app: Conveyor, open_app: Any) -> None:
    app.pause(queue="nüll ∅")
    app.pause(queue="nüll ∅")  # twice is fine

    other = open_app()
    [info] = [q for q in other.queues() if q.name == "nüll ∅"]
    assert info.paused and info.concurrency is None and info.rate is None
    other.resume(queue="nüll ∅")
    other.resume(queue="nüll ∅")
    assert not [q for q in app.queues() if q.name == "nüll ∅" and q.paused]


@pytest.mark.parametrize("call", [lambda a: a.pause(), lambda a: a.resume(),
                                  lambda a: a.pause(queue=""), lambda a: a.pause(queue="a\x00"),
                                  lambda a: a.pause(job="no such job")])
def test_pause_without_a_valid_target_is_refused(sqlite_app: Conveyor, call: Any) -> None:
    with pytest.raises((ValueError, LookupError)) as caught:
        call(sqlite_app)
    assert str(caught.value)


def test_concurrency_per_key_holds_across_two_workers(app: Conveyor, open_app: Any) -> None:
    import threading
    import time

    lock = threading.Lock()
    running: dict[str, int] = {}
    most: dict[str, int] = {}

    def define(target: Conveyor) -> Any:
        @target.job("clé ✓", concurrency=1, concurrency_key="shop")
        def per_shop(payload: Any) -> str:
            shop = payload["shop"]
            with lock:
                running[shop] = running.get(shop, 0) + 1
                most[shop] = max(most.get(shop, 0), running[shop])
            time.sleep(0.02)  # overlap if the store let two attempts of one shop start
            with lock:
                running[shop] -= 1
            return str(shop)

        return per_shop

    job = define(app)
    second = open_app()
    define(second)
    handles = [job({"shop": shop}).run_now() for shop in ("α", "β", "α", "β", "α", "β")]

    threads = [threading.Thread(target=a.run_worker, kwargs={"concurrency": 4, "burst": True})
               for a in (app, second)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    app.run_worker(burst=True)  # whatever a worker left as held back

    assert [h.result(timeout=30) for h in handles] == ["α", "β"] * 3
    assert most == {"α": 1, "β": 1}
