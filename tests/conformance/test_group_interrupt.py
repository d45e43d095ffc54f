"""A trigger whose shared commit's leader is interrupted (Ctrl-C) in the store: the other
callers never get its interrupt nor wait for ever; their jobs are stored once, by the next
leader (the batch was rolled back), or they are told it is unknown (past the commit)."""

from __future__ import annotations

import threading
from typing import Any

import pytest

from conveyor import Conveyor
from conveyor.errors import StoreUnavailable
from conveyor.stores.base import NewJob
from tests.support import queue_behind_first


@pytest.mark.parametrize("point", ["one", "inserted"])
def test_callers_sharing_an_interrupted_commit_get_a_true_outcome(
    app: Conveyor, monkeypatch: pytest.MonkeyPatch, point: str,
) -> None:
    """``point``: the leader is interrupted as it takes its connection (before the
    commit: a wait for the connection or the write lock is where a Ctrl-C lands), or
    just after the commit (as the store tells its workers of the new jobs)."""
    store: Any = app.store
    group, real, calls, go = store.group, getattr(store.d, point), [0], threading.Event()

    def interrupted(*args: Any) -> Any:
        calls[0] += 1
        if calls[0] == 1:  # the first caller's commit: the others queue behind it
            go.wait(10)
        elif calls[0] == 2:  # the next one, shared by the callers queued
            raise KeyboardInterrupt
        return real(*args)

    monkeypatch.setattr(store.d, point, interrupted)
    got: dict[str, object] = {}

    def trigger(name: str) -> None:
        try:
            got[name] = store.insert([NewJob(job=name)])[0]
        except BaseException as exc:  # (this test thread's, not a real Ctrl-C)
            got[name] = exc

    names = ["a", "b1", "b2", "b3"]
    threads = [threading.Thread(target=trigger, args=(n,)) for n in names]
    queue_behind_first(threads, group, calls, go)
    assert isinstance(got["b1"], KeyboardInterrupt)  # the leader of the shared batch
    stored = {n: app.count(job=n) for n in names}
    if point == "one":  # rolled back: stored by the next leader, once
        assert all(isinstance(got[n], int) for n in ["a", "b2", "b3"]), got
        assert stored == {"a": 1, "b1": 0, "b2": 1, "b3": 1}
    else:  # committed, but they cannot know: told so, and not stored again
        assert all(isinstance(got[n], StoreUnavailable) for n in ["b2", "b3"]), got
        assert stored == {"a": 1, "b1": 1, "b2": 1, "b3": 1}
    assert isinstance(store.insert([NewJob(job="later")])[0], int)
