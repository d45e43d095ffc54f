"""A heartbeat never waits for a row another transaction holds locked (most often the
worker's own completion of that job): the other leases are renewed at once, the locked
job is not taken for lost, and the next heartbeat renews it."""

from __future__ import annotations

import threading

import pytest

from conveyor import Conveyor
from tests.postgres.helpers import connect

pytestmark = pytest.mark.postgres


def _expiries(url: str) -> dict[int, float]:
    with connect(url) as conn:
        rows = conn.execute(
            "SELECT id, lease_expires_at FROM conveyor_jobs "
            "WHERE state = 'running'").fetchall()
    return {int(r[0]): float(r[1]) for r in rows}


def test_a_locked_row_is_skipped_not_waited_for(pg_url: str) -> None:
    app = Conveyor(pg_url)

    @app.job
    def one() -> None: ...

    app.enqueue_many(one() for _ in range(3))
    jobs = app.store.claim("w", None, 3, 30)
    held = {j.id: j.token for j in jobs}
    before = _expiries(pg_url)
    locked = jobs[1].id
    answers: list[set[int]] = []
    with connect(pg_url) as other:
        with other.transaction():  # as a completion of that job, not committed yet
            other.execute("SELECT 1 FROM conveyor_jobs WHERE id = %s FOR UPDATE", (locked,))
            beat = threading.Thread(
                target=lambda: answers.append(app.store.heartbeat("w", held, 60)))
            beat.start()
            beat.join(20)  # nothing to wait for: it answers at once (generous on a loaded box)
            answered = not beat.is_alive()
        beat.join(20)
    assert answered, "the heartbeat waited for the locked row"
    assert answers == [set()]  # nothing lost, the locked job included
    after = _expiries(pg_url)
    assert after[locked] == before[locked]  # skipped
    assert all(after[j] > before[j] + 20 for j in held if j != locked)  # renewed: 60 s
    assert app.store.heartbeat("w", held, 60) == set()  # the lock is gone: renewed
    assert _expiries(pg_url)[locked] > before[locked] + 20
    app.close()
