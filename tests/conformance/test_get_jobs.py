"""``app.get_jobs(ids)``: ``get_job`` for many at once, on every store."""

from __future__ import annotations

from conveyor import Conveyor


def test_get_jobs_reads_the_stored_ones_in_id_order(app: Conveyor) -> None:
    @app.job
    def add(a: int, b: int) -> int:
        return a + b

    first, second, third = (add(n, 1).run_now() for n in range(3))
    records = app.get_jobs([third, first.id, str(second.id), 10**30, -1, "x", first])
    assert [r.id for r in records] == [first.id, second.id, third.id]
    assert records == [app.get_job(h.id) for h in (first, second, third)]
    assert app.get_jobs([]) == []
