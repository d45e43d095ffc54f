"""Conveyor(store=...): a store object instead of a URL (SPEC §1)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from conveyor import ConfigurationError, Conveyor
from conveyor.stores.memory import MemoryStore


class Fixed:
    def now(self) -> datetime:
        return datetime(2030, 1, 1, tzinfo=UTC)


def test_an_app_runs_on_a_store_object_it_is_given() -> None:
    store = MemoryStore("memory://given")
    with Conveyor(store=store) as app:
        assert app.store is store and app.url == "memory://given"

        @app.job
        def double(n: int) -> int:
            return n * 2

        handle = double(21).run_now()
        app.run_worker(burst=True)
        assert handle.result(timeout=30) == 42


def test_the_given_store_decides_on_the_apps_clock() -> None:
    store = MemoryStore()
    clock = Fixed()
    app = Conveyor(store=store, clock=clock)
    assert store.clock is clock and store.now() == clock.now().timestamp()
    app.use_clock(None)
    assert store.clock is None


def test_a_url_and_a_store_together_are_refused() -> None:
    with pytest.raises(ConfigurationError, match=r"either a store URL .* or store=, not both"):
        Conveyor("memory://", store=MemoryStore())
    with pytest.raises(ConfigurationError, match="not both"):
        Conveyor(store=MemoryStore(), pool_size=3)
