"""SPEC §4/§5/§10 with a real worker process killed (-9) inside a workflow member: the
member is rescued and retried, the workflow completes, and nothing done runs again."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from conveyor import Conveyor, chain
from tests.acceptance.blind_g.support import crash_jobs, kill_inside_middle, rec, words
from tests.conformance.helpers import drain


@pytest.mark.slow
def test_a_chain_member_killed_mid_run_is_retried_and_the_chain_completes(
        open_app: Callable[..., Conveyor], url: str, tmp_path: Path) -> None:
    app = open_app(lease=1)
    ledger = tmp_path / "ledger"
    first, middle, _ = crash_jobs(app, ledger)
    h = chain(first(1), middle(), first()).run_now()
    kill_inside_middle(url, tmp_path, ledger)
    assert rec(app, h.ids[2]).state == "blocked"
    drain(app)
    assert h.result(timeout=10) == 21
    assert words(ledger) == ["first", "middle", "middle", "first"]
    assert rec(app, h.ids[1]).attempts == 2


@pytest.mark.slow
def test_a_fan_out_whose_child_was_killed_starts_no_child_twice(
        open_app: Callable[..., Conveyor], url: str, tmp_path: Path) -> None:
    app = open_app(lease=1)
    ledger = tmp_path / "ledger"
    _, _, fanned = crash_jobs(app, ledger)
    h = fanned(3).run_now()
    kill_inside_middle(url, tmp_path, ledger,
                       settled=lambda: app.count(job="first", state="completed") == 3)
    drain(app)
    assert h.result(timeout=10) == [1, 2, 3, 30]
    assert len(rec(app, h).children) == 4
    assert sorted(words(ledger)) == ["fanned", "fanned", "first", "first", "first",
                                     "middle", "middle"]
