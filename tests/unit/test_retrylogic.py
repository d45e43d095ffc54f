"""stores.retrylogic: what a retry reopens, decided without a store."""

from __future__ import annotations

from conveyor.stores.retrylogic import PURGED, Member, cascaded, fed_arguments, plan_retry

CASCADED = '{"type": "DependencyFailed", "message": "run 1 ...", "cause": 1}'


def test_a_dependent_cancelled_by_the_cascade_is_reopened_blocked() -> None:
    members = {1: Member(1, "failed", None, False), 2: Member(2, "cancelled", "one", True),
               3: Member(3, "cancelled", "one", True)}
    reopened, edges = plan_retry([1], members, {2: [1], 3: [2]}, {1: "failed", 2: "cancelled"})
    assert [(r.id, r.state, r.blockers, r.feed, r.restored) for r in reopened] == [
        (1, "pending", 0, False, False), (2, "blocked", 1, False, True),
        (3, "blocked", 1, False, True)]
    assert edges == [(2, 1, False), (3, 2, False)]


def test_one_whose_other_dependency_failed_stays_cancelled() -> None:
    members = {1: Member(1, "failed", None, False), 3: Member(3, "cancelled", "all", True)}
    reopened, _ = plan_retry([1], members, {3: [1, 2]}, {1: "failed", 2: "failed"})
    assert [r.id for r in reopened] == [1]


def test_a_broken_dependency_refuses_and_a_purged_input_cannot_be_fed() -> None:
    blocked = {2: Member(2, "cancelled", "one", True)}
    assert plan_retry([2], blocked, {2: [1]}, {1: "cancelled"}) == ([], [])
    assert plan_retry([2], blocked, {2: [1]}, {1: PURGED}) == ([], [])
    fed = {2: Member(2, "failed", None, False)}  # had its input: a purged one is done
    reopened, edges = plan_retry([2], fed, {2: [1]}, {1: PURGED})
    assert [(r.state, r.feed) for r in reopened] == [("pending", False)]
    assert edges == [(2, 1, True)]


def test_fed_arguments_are_what_the_release_trigger_writes() -> None:
    assert fed_arguments("[]", "{}", "null", "one", ['{"a": 1}']) == ('[{"a": 1}]', '{"a": 1}')
    assert fed_arguments("[5]", "{}", "5", "one", [None]) == ("[null, 5]", "5")
    assert fed_arguments("[]", '{"k": 1}', '{"k": 1}', "all", ["1", "2"]) == (
        "[[1, 2]]", '{"k": 1}')
    assert cascaded(CASCADED) and not cascaded('{"type": "RuntimeError"}')
    assert not cascaded(None) and not cascaded("not json")
