"""SPEC §9 rate limits on the app's clock, §1 app lifecycle and §12 fixtures, on every
store."""

from __future__ import annotations

import asyncio
from datetime import datetime
from typing import Any

import pytest

from conveyor import Conveyor
from conveyor.testing import run_until_idle


def burst(app: Conveyor) -> int:
    app.run_worker(concurrency=4, burst=True)
    return app.count(state="completed")


def test_a_job_rate_holds_starts_back_per_sliding_window(capp: Conveyor, clock: Any) -> None:
    @capp.job("limited", rate="2/minute")
    def limited() -> None: ...

    for _ in range(5):
        limited().run_now()
    assert burst(capp) == 2
    assert capp.count(state="failed") == 0
    clock.advance(seconds=30)
    assert burst(capp) == 2
    clock.advance(seconds=31)
    assert burst(capp) == 4
    clock.advance(minutes=1)
    assert burst(capp) == 5


def test_a_queue_rate_spans_every_job_of_the_queue(capp: Conveyor, clock: Any) -> None:
    capp.queue("slow", rate="3/hour")

    @capp.job("a", queue="slow")
    def a() -> None: ...

    @capp.job("b", queue="slow")
    def b() -> None: ...

    for _ in range(3):
        a().run_now()
        b().run_now()
    assert burst(capp) == 3
    clock.advance(minutes=59)
    assert burst(capp) == 3
    clock.advance(minutes=2)
    assert burst(capp) == 6


def test_a_concurrency_key_limits_per_value(app: Conveyor) -> None:
    running: dict[str, int] = {}
    peak: dict[str, int] = {}

    @app.job("per-shop", concurrency=1, concurrency_key="shop")
    def per_shop(payload: dict[str, Any]) -> None:
        shop = payload["shop"]
        running[shop] = running.get(shop, 0) + 1
        peak[shop] = max(peak.get(shop, 0), running[shop])
        running[shop] -= 1

    for shop in ["a", "a", "b", "b", "a"]:
        per_shop({"shop": shop}).run_now()
    app.run_worker(concurrency=4, burst=True)
    assert app.count(state="completed") == 5 and peak == {"a": 1, "b": 1}


def test_close_is_idempotent_and_the_context_managers_close(make: Any) -> None:
    app = make()
    app.close()
    app.close()
    with make() as inside:
        assert inside.count() == 0

    async def use() -> int:
        async with make() as opened:
            return opened.count()

    assert asyncio.run(use()) == 0


def test_the_url_comes_from_the_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Any) -> None:
    monkeypatch.setenv("CONVEYOR_URL", f"sqlite:///{tmp_path}/env.db")
    with Conveyor() as app:
        app.count()
    assert (tmp_path / "env.db").exists()


def test_the_default_url_is_conveyor_db_in_the_working_directory(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Any
) -> None:
    monkeypatch.delenv("CONVEYOR_URL", raising=False)
    monkeypatch.chdir(tmp_path)
    with Conveyor() as app:
        app.count()
    assert (tmp_path / "conveyor.db").exists()


class NaiveClock:
    def now(self) -> datetime:
        return datetime(2030, 1, 1)


def test_a_clock_giving_naive_times_is_refused() -> None:
    with pytest.raises((ValueError, TypeError)):
        app = Conveyor("memory://", clock=NaiveClock())
        try:

            @app.job("j")
            def j() -> None: ...

            j().run_now()
        finally:
            app.close()


def test_the_conveyor_app_fixture_is_a_working_memory_app(conveyor_app: Conveyor) -> None:
    @conveyor_app.job("fx")
    def fx() -> int:
        return 3

    handle = fx().run_now()
    run_until_idle(conveyor_app)
    assert handle.result(timeout=30) == 3
