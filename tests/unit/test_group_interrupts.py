"""Group commit interrupted (Ctrl-C) in the leader's store_many or its hand-over: the
other callers never get its interrupt nor wait for ever; their items are stored once."""

from __future__ import annotations

import threading
from collections.abc import Sequence

import pytest

from conveyor.errors import StoreUnavailable
from conveyor.stores.base import NewJob
from conveyor.stores.group import GroupCommit, _Call, committing
from tests.support import queue_behind_first
from tests.unit.test_group_commit import FakeStore, _job


def _behind_a_lone_batch(
    names: list[str], interrupt_at: int, after_commit: bool = False,
) -> tuple[FakeStore, dict[str, object]]:
    """'a' is stored alone while callers ``names`` queue behind it (in that order), then
    they share the next batch; store_many call ``interrupt_at`` (1: a's) is interrupted
    (Ctrl-C), before its commit or ``after_commit``. Returns each caller's id or what it
    raised (BaseException included); every caller came back."""
    store, calls, go = FakeStore(), [0], threading.Event()

    def store_many(jobs: Sequence[NewJob]) -> list[int]:
        calls[0] += 1
        if calls[0] == 1:
            go.wait(10)
        if calls[0] == interrupt_at and not after_commit:
            raise KeyboardInterrupt
        ids = store.store_many(jobs)
        if calls[0] == interrupt_at:
            committing()
            raise KeyboardInterrupt
        return ids

    group: GroupCommit[NewJob, int] = GroupCommit(store_many)
    results: dict[str, object] = {}

    def call(name: str) -> None:
        try:
            results[name] = group.insert(_job(name))
        except BaseException as exc:  # (the test's thread: not its own Ctrl-C)
            results[name] = exc

    threads = [threading.Thread(target=call, args=(n,)) for n in ["a", *names]]
    queue_behind_first(threads, group, calls, go)
    assert not group.leading and not group.waiting
    return store, results


def test_a_leader_interrupted_before_its_commit_leaves_the_others_to_the_next_leader() -> None:
    store, got = _behind_a_lone_batch(["b1", "b2", "b3"], interrupt_at=2)
    assert isinstance(got["b1"], KeyboardInterrupt)  # the leader's own Ctrl-C: its own
    assert [got[n] for n in ["a", "b2", "b3"]] == [1, 2, 3]  # stored by the next leader
    assert store.batches == [["a"], ["b2", "b3"]]


def test_a_leader_interrupted_past_its_commit_tells_the_others_it_is_unknown() -> None:
    store, got = _behind_a_lone_batch(["b1", "b2", "b3"], interrupt_at=2, after_commit=True)
    assert isinstance(got["b1"], KeyboardInterrupt)
    for name in ["b2", "b3"]:  # maybe stored: not stored again
        assert isinstance(got[name], StoreUnavailable), got[name]
        assert "may or may not be stored" in str(got[name])
    assert store.batches == [["a"], ["b1", "b2", "b3"]]


def test_a_leader_interrupted_storing_item_by_item_leaves_the_rest_to_the_next() -> None:
    # The batch fails (a bad item): stored one by one, interrupted at b2's.
    store, got = _behind_a_lone_batch(["b1", "bad", "b2", "b3"], interrupt_at=5)
    assert isinstance(got["b1"], KeyboardInterrupt) and isinstance(got["bad"], ValueError)
    assert [got[n] for n in ["a", "b2", "b3"]] == [1, 3, 4]
    assert store.batches == [["a"], ["b1"], ["b2", "b3"]]


def test_a_hand_over_interrupted_still_wakes_every_caller(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    wake, woken = _Call.wake, []

    def interrupted_once(call: _Call[NewJob, int]) -> None:
        woke = not call.woken and call.done is not None
        wake(call)
        if woke:
            woken.append(call)
            if len(woken) == 2:  # Ctrl-C just after b1's batch woke b2 (b3 is next)
                raise KeyboardInterrupt

    monkeypatch.setattr(_Call, "wake", interrupted_once)
    store, got = _behind_a_lone_batch(["b1", "b2", "b3"], interrupt_at=0)
    assert isinstance(got["b1"], KeyboardInterrupt)  # (stored, but its Ctrl-C is its own)
    assert [got[n] for n in ["a", "b2", "b3"]] == [1, 3, 4]
    assert store.batches == [["a"], ["b1", "b2", "b3"]]


def test_a_lone_caller_interrupted_as_it_stores_hands_the_lead_to_those_behind() -> None:
    store, got = _behind_a_lone_batch(["b1", "b2"], interrupt_at=1)
    assert isinstance(got["a"], KeyboardInterrupt)  # rolled back: a's own interrupt
    assert [got[n] for n in ["b1", "b2"]] == [1, 2]
    assert store.batches == [["b1", "b2"]]


class _InterruptedOnce:
    """A group's lock whose ``nth`` entry is interrupted (Ctrl-C) before it is taken."""

    def __init__(self, nth: int) -> None:
        self.lock, self.entries, self.nth = threading.Lock(), 0, nth

    def __enter__(self) -> None:
        self.entries += 1
        if self.entries == self.nth:
            raise KeyboardInterrupt
        self.lock.acquire()

    def __exit__(self, *exc: object) -> None:
        self.lock.release()


def test_a_lone_caller_interrupted_as_it_leaves_the_lead_leaves_it_all_the_same() -> None:
    store = FakeStore()
    group: GroupCommit[NewJob, int] = GroupCommit(store.store_many)
    group.lock = _InterruptedOnce(nth=2)  # type: ignore[assignment]  # (1: taking the lead)
    with pytest.raises(KeyboardInterrupt):
        group.insert(_job("a"))  # stored, then interrupted as it ends its lone lead
    assert not group.leading and not group.waiting
    assert group.insert(_job("b")) == 2  # (a later caller leads: nobody waits for ever)
    assert store.batches == [["a"], ["b"]]
