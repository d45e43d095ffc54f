"""enqueue_many stores every call, in order, with its own handle (every store)."""

from __future__ import annotations

import pytest

from conveyor import Conveyor


@pytest.mark.parametrize("count", [1, 2, 39, 40, 41, 81, 250])
def test_enqueue_many_returns_handles_in_call_order(app: Conveyor, count: int) -> None:
    @app.job
    def item(n: int) -> int:
        return n

    handles = app.enqueue_many([item(n) for n in range(count)])
    assert len({h.id for h in handles}) == count
    assert [app.get_job(h.id).args for h in handles] == [[n] for n in range(count)]  # type: ignore[union-attr]
    app.run_worker(burst=True)
    assert [h.result(5) for h in handles] == list(range(count))


def test_enqueue_many_of_nothing_stores_nothing(app: Conveyor) -> None:
    assert app.enqueue_many([]) == []
    assert app.count() == 0
