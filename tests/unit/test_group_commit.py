"""Group commit: concurrent single inserts share a transaction, each caller its own id."""

from __future__ import annotations

import threading
import time
from collections.abc import Sequence

import pytest

from conveyor.stores.base import NewJob
from conveyor.stores.group import GroupCommit


class FakeStore:
    def __init__(self) -> None:
        self.batches: list[list[str]] = []
        self.next_id = 0

    def store_many(self, jobs: Sequence[NewJob]) -> list[int]:
        time.sleep(0.01)  # a commit takes a while: callers pile up meanwhile
        names = [j.job for j in jobs]
        if "bad" in names:
            raise ValueError("bad job")
        self.batches.append(names)
        ids = list(range(self.next_id + 1, self.next_id + 1 + len(jobs)))
        self.next_id += len(jobs)
        return ids


def _job(name: str) -> NewJob:
    return NewJob(job=name, args="[]", kwargs="{}")


def test_concurrent_callers_share_batches_and_get_their_own_ids() -> None:
    store = FakeStore()
    group = GroupCommit(store.store_many)
    got: dict[str, int] = {}

    def call(name: str) -> None:
        got[name] = group.insert(_job(name))

    threads = [threading.Thread(target=call, args=(f"j{i}",)) for i in range(40)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(store.batches) < 40  # commits were shared
    order = [name for batch in store.batches for name in batch]
    assert sorted(order) == sorted(got) and len(set(got.values())) == 40
    assert all(got[name] == order.index(name) + 1 for name in got)


def test_a_lone_caller_commits_alone_at_once() -> None:
    store = FakeStore()
    group = GroupCommit(store.store_many)
    assert [group.insert(_job("a")), group.insert(_job("b"))] == [1, 2]
    assert store.batches == [["a"], ["b"]]


def test_a_failing_job_fails_only_its_own_call() -> None:
    store = FakeStore()
    group = GroupCommit(store.store_many)
    results: dict[str, object] = {}

    def call(name: str) -> None:
        try:
            results[name] = group.insert(_job(name))
        except ValueError as exc:
            results[name] = exc

    threads = [threading.Thread(target=call, args=(n,)) for n in ["a", "bad", "b", "c"] * 5]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert isinstance(results["bad"], ValueError)
    assert all(isinstance(results[n], int) for n in "abc")


def test_an_error_reaches_the_caller() -> None:
    group = GroupCommit(FakeStore().store_many)
    with pytest.raises(ValueError, match="bad job"):
        group.insert(_job("bad"))
    assert group.leading is False


def test_callers_with_several_items_share_batches_and_get_each_items_outcome() -> None:
    store = FakeStore()
    group: GroupCommit[NewJob, int] = GroupCommit(store.store_many)
    got: dict[int, list[int | BaseException]] = {}

    def call(i: int) -> None:
        names = ["bad" if i == 3 and k == 1 else f"j{i}-{k}" for k in range(3)]
        got[i] = group.insert_all([_job(n) for n in names])

    threads = [threading.Thread(target=call, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert all(len(got[i]) == 3 for i in range(8))
    bad = got[3][1]
    assert isinstance(bad, ValueError)  # only the refused item failed
    ids = [r for i in range(8) for r in got[i] if not isinstance(r, BaseException)]
    assert len(set(ids)) == 23
    assert group.insert_all([]) == []
    assert group.leading is False
