"""Storing outcomes when the worker's guard gives up on the store: what was not stored is
returned as such (None), never bisected as refused data nor mistaken for stored."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from typing import Any

from conveyor.stores.base import Outcome
from conveyor.worker.outcomes import GaveUp, store_and_claim, store_outcomes


class FakeStore:
    """Refuses outcomes with result "bad" (data); the guard gives up on batches with
    "gone" (the store went away as the worker stopped)."""

    def __init__(self) -> None:
        self.stored: list[int] = []
        self.claims = 0

    def complete(self, outcomes: Sequence[Outcome]) -> int:
        if any(o.result == '"bad"' for o in outcomes):
            raise ValueError("refused")
        self.stored += [o.id for o in outcomes]
        return len(outcomes)

    def complete_and_claim(self, outcomes: Sequence[Outcome], *claim: Any) -> list[Any]:
        raise GaveUp("StoreUnavailable: down")

    def claim(self, *claim: Any) -> list[Any]:
        self.claims += 1
        return []


def _guard(gone: Callable[[Sequence[Outcome]], bool]) -> Any:
    async def guard(fn: Callable[..., Any], *args: Any) -> Any:
        if args and isinstance(args[0], list) and gone(args[0]):
            raise GaveUp("StoreUnavailable: down")
        return fn(*args)
    return guard


def _outcomes(*results: str) -> list[Outcome]:
    return [Outcome(n, n, "completed", 1.0, result=f'"{r}"') for n, r in enumerate(results, 1)]


def test_a_batch_given_up_on_is_returned_as_not_stored_without_bisecting() -> None:
    store = FakeStore()
    outcomes = _outcomes("a", "b", "c")
    got = asyncio.run(store_outcomes(_guard(lambda batch: True), store, outcomes))
    assert got == {1: None, 2: None, 3: None} and store.stored == []


def test_giving_up_midway_through_a_bisection_keeps_what_was_stored() -> None:
    store = FakeStore()
    outcomes = _outcomes("ok", "bad", "ok", "gone")
    gone = lambda batch: any(o.result == '"gone"' for o in batch) and len(batch) < 4  # noqa: E731
    got = asyncio.run(store_outcomes(_guard(gone), store, outcomes))
    assert store.stored == [1, 2]  # 2 as a failed attempt in place of "bad"
    failed = got.pop(2)
    assert failed is not None and failed.state == "failed"
    assert got == {3: None, 4: None}  # the half with "gone" was given up on


def test_outcomes_with_a_claim_given_up_on_are_not_stored_and_nothing_is_claimed() -> None:
    store = FakeStore()
    outcomes = _outcomes("a", "b")
    got, jobs, failed = asyncio.run(store_and_claim(
        _guard(lambda batch: False), store, outcomes, ("w", None, 5, 30.0)))
    assert got == {1: None, 2: None} and jobs is None and failed is None
    assert store.stored == [] and store.claims == 0
