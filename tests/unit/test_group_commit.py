"""Group commit: concurrent single inserts share a transaction, each caller its own id."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence
from typing import Any

import pytest

from conveyor.errors import StoreUnavailable
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


def _recording(group: GroupCommit[NewJob, int],
               results: dict[str, object]) -> Callable[[str], None]:
    """A caller inserting the job ``name``: its id, or the error it raised, in results."""
    def call(name: str) -> None:
        try:
            results[name] = group.insert(_job(name))
        except Exception as exc:
            results[name] = exc

    return call


def test_a_failing_job_fails_only_its_own_call() -> None:
    store = FakeStore()
    group = GroupCommit(store.store_many)
    results: dict[str, object] = {}
    call = _recording(group, results)
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


def _crowded(crowd: int = 2) -> tuple[FakeStore, GroupCommit[NewJob, int]]:
    """A group whose last batch had ``crowd`` callers, just committed (so a lone leader
    first waits for them to come back)."""
    store = FakeStore()
    group: GroupCommit[NewJob, int] = GroupCommit(store.store_many)
    group.crowd, group.crowd_until = crowd, time.monotonic() + 3600
    return store, group


def _another_caller(group: GroupCommit[NewJob, int], call: Callable[[], object],
                    started: list[threading.Thread], *, queues: bool = False) -> None:
    """(While the leader waits for the crowd) start a caller; with ``queues``, return
    once it waits in line."""
    before = len(group.waiting)
    thread = threading.Thread(target=call)
    thread.start()
    started.append(thread)
    deadline = time.monotonic() + 10
    while queues and len(group.waiting) == before:
        assert time.monotonic() < deadline, "the other caller never queued"
        time.sleep(0.001)


def _leaders(store: FakeStore) -> list[str]:
    """The names of the threads that stored each of ``store``'s batches, from now on."""
    names: list[str] = []
    real = store.store_many

    def recording(jobs: Sequence[NewJob]) -> list[int]:
        names.append(threading.current_thread().name)
        return real(jobs)

    store.store_many = recording  # type: ignore[method-assign]
    return names


def test_after_a_shared_batch_a_lone_leader_takes_callers_coming_back_with_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    store, group = _crowded()
    got: dict[str, int] = {}
    others: list[threading.Thread] = []

    def another_comes_back(done: Any, timeout: float) -> bool:
        _another_caller(group, lambda: got.update(b=group.insert(_job("b"))), others)
        return bool(done.acquire(True, timeout))

    monkeypatch.setattr("conveyor.stores.group.wait_for_crowd", another_comes_back)
    got["a"] = group.insert(_job("a"))
    others[0].join()
    assert store.batches == [["a", "b"]]  # one commit, the leader's item first
    assert got == {"a": 1, "b": 2}
    assert group.crowd == 2 and not group.leading and not group.waiting


@pytest.mark.parametrize("all_come", [True, False])
def test_the_last_of_the_crowd_to_come_leads_else_the_leader_once_it_waited(
    monkeypatch: pytest.MonkeyPatch, all_come: bool
) -> None:
    store, group = _crowded(crowd=3)
    leaders = _leaders(store)
    group.store_many = store.store_many
    got: dict[str, int] = {}
    others: list[threading.Thread] = []

    def call(name: str) -> Callable[[], None]:
        return lambda: got.update({name: group.insert(_job(name))})

    def others_come_back(done: Any, timeout: float) -> bool:
        _another_caller(group, call("b"), others, queues=True)
        if not all_come:  # the wait is over before the third comes
            return bool(done.acquire(False))
        others.append(threading.Thread(target=call("c"), name="last"))
        others[-1].start()
        return bool(done.acquire(True, timeout))

    monkeypatch.setattr("conveyor.stores.group.wait_for_crowd", others_come_back)
    first = threading.Thread(target=call("a"), name="gathering")
    first.start()
    first.join()
    for thread in others:
        thread.join()
    assert store.batches == ([["a", "b", "c"]] if all_come else [["a", "b"]])
    assert leaders == ["last" if all_come else "gathering"]
    assert got == ({"a": 1, "b": 2, "c": 3} if all_come else {"a": 1, "b": 2})
    assert group.crowd == len(got) and not group.leading and not group.waiting


def test_a_lone_leader_that_waited_for_nobody_stores_alone_and_stops_waiting(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    store = FakeStore()
    group = GroupCommit(store.store_many)
    waits: list[float] = []

    def nobody_comes(done: Any, timeout: float) -> bool:
        waits.append(timeout)
        return bool(done.acquire(False))

    monkeypatch.setattr("conveyor.stores.group.wait_for_crowd", nobody_comes)
    assert group.insert(_job("a")) == 1 and waits == []  # never shared: no wait at all
    group.crowd, group.crowd_until = 2, time.monotonic() + 3600
    assert group.insert(_job("b")) == 2 and len(waits) == 1 and 0 < waits[0] <= 3600
    assert group.insert(_job("c")) == 3 and len(waits) == 1  # lone again: no more
    group.crowd, group.crowd_until = 2, time.monotonic() - 1  # (its time is up)
    assert group.insert(_job("d")) == 4 and len(waits) == 1
    assert store.batches == [["a"], ["b"], ["c"], ["d"]] and group.crowd == 0


def test_a_failing_item_of_a_gathered_batch_fails_only_its_caller(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    store, group = _crowded()
    errors: list[BaseException] = []

    def bad() -> None:
        try:
            group.insert(_job("bad"))
        except ValueError as exc:
            errors.append(exc)

    others: list[threading.Thread] = []

    def a_bad_one_comes_back(done: Any, timeout: float) -> bool:
        _another_caller(group, bad, others)
        return bool(done.acquire(True, timeout))

    monkeypatch.setattr("conveyor.stores.group.wait_for_crowd", a_bad_one_comes_back)
    assert group.insert(_job("a")) == 1
    others[0].join()
    assert len(errors) == 1 and store.batches == [["a"]]


def test_an_interrupted_leader_hands_over_to_the_callers_queued_behind_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    store, group = _crowded(crowd=3)
    got: dict[str, int] = {}
    others: list[threading.Thread] = []

    def interrupted(done: Any, timeout: float) -> bool:  # Ctrl-C while b waits behind
        _another_caller(group, lambda: got.update(b=group.insert(_job("b"))), others,
                        queues=True)
        raise KeyboardInterrupt

    monkeypatch.setattr("conveyor.stores.group.wait_for_crowd", interrupted)
    with pytest.raises(KeyboardInterrupt):
        group.insert(_job("a"))
    others[0].join()
    assert got == {"b": 1} and store.batches == [["b"]] and not group.leading


def test_an_interrupted_leader_whose_batch_the_last_caller_took_leaves_it_to_that_caller(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    store, group = _crowded()
    got: dict[str, int] = {}
    others: list[threading.Thread] = []

    def interrupted(done: Any, timeout: float) -> bool:  # Ctrl-C once b leads the batch
        _another_caller(group, lambda: got.update(b=group.insert(_job("b"))), others)
        deadline = time.monotonic() + 10
        while group.waiting:
            assert time.monotonic() < deadline, "the last caller never took the batch"
            time.sleep(0.001)
        raise KeyboardInterrupt

    monkeypatch.setattr("conveyor.stores.group.wait_for_crowd", interrupted)
    with pytest.raises(KeyboardInterrupt):
        group.insert(_job("a"))
    monkeypatch.undo()
    others[0].join()
    assert got == {"b": 2} and store.batches == [["a", "b"]]  # stored once, by b
    assert group.insert(_job("c")) == 3 and not group.leading and not group.waiting


class _Interrupting:
    """A follower's lock whose wait is interrupted (Ctrl-C): before it is woken, or just
    as it is woken to lead the next batch."""

    def __init__(self, woken: bool, waits: Callable[[], object]) -> None:
        self.lock, self.woken, self.waits, self.acquired = threading.Lock(), woken, waits, 0

    def acquire(self) -> bool:
        self.acquired += 1
        if self.acquired == 1:  # (held from the start)
            return self.lock.acquire()
        self.waits()  # (queued behind the leader)
        if self.woken:
            self.lock.acquire()
        raise KeyboardInterrupt

    def release(self) -> None:
        self.lock.release()


@pytest.mark.parametrize("woken", [False, True], ids=["waiting", "woken_to_lead"])
def test_an_interrupted_follower_leaves_the_line_and_the_group_goes_on(
    monkeypatch: pytest.MonkeyPatch, woken: bool
) -> None:
    committing, go_on = threading.Event(), threading.Event()
    store = FakeStore()

    def slow_store(jobs: Sequence[NewJob]) -> list[int]:
        committing.set()
        go_on.wait(10)
        return store.store_many(jobs)

    group: GroupCommit[NewJob, int] = GroupCommit(slow_store)
    leader = threading.Thread(target=group.insert, args=(_job("a"),))
    leader.start()
    assert committing.wait(10)
    interrupted: list[BaseException] = []
    lock = _Interrupting(woken, go_on.set)
    monkeypatch.setattr("conveyor.stores.group._thread.allocate_lock", lambda: lock)
    try:
        group.insert(_job("b"))
    except KeyboardInterrupt as exc:
        interrupted.append(exc)
    monkeypatch.undo()
    leader.join()
    assert interrupted and store.batches == [["a"]]
    later = threading.Thread(target=group.insert, args=(_job("c"),), daemon=True)
    later.start()
    later.join(10)
    assert not later.is_alive(), "the group waits for a leader that never comes"
    assert store.batches[-1] == ["c"] and not group.leading and not group.waiting


def test_a_batch_whose_connection_was_lost_is_not_stored_again_item_by_item(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    store, group = _crowded()
    real = store.store_many

    def lost_after_commit(jobs: Sequence[NewJob]) -> list[int]:
        ids = real(jobs)
        if len(jobs) > 1:  # committed, but the connection went before its result came
            raise StoreUnavailable("the server closed the connection")
        return ids

    group.store_many = lost_after_commit
    got: dict[str, object] = {}
    call = _recording(group, got)
    others: list[threading.Thread] = []

    def another_comes_back(done: Any, timeout: float) -> bool:
        _another_caller(group, lambda: call("b"), others)
        return bool(done.acquire(True, timeout))

    monkeypatch.setattr("conveyor.stores.group.wait_for_crowd", another_comes_back)
    call("a")
    others[0].join()
    assert store.batches == [["a", "b"]]  # not again as ["a"], ["b"]: no job twice
    assert all(isinstance(got[n], StoreUnavailable) for n in "ab")  # its outcome unknown
