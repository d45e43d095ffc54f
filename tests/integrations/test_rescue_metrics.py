"""A job rescued from a dead worker is a failed attempt in the metrics: counted retried
when it runs again, failed when it is failed as a poison job (SPEC §4, §11)."""

from __future__ import annotations

import time
import uuid

from conveyor import Conveyor
from conveyor.observe import metrics
from conveyor.stores.base import POISON_RESCUES


def _sample(name: str, job: str) -> float:
    value = metrics.instruments().registry.get_sample_value(name, {"job": job})
    return value or 0.0


def test_rescued_jobs_count_as_retried_then_failed_as_poison(app: Conveyor) -> None:
    assert metrics.install(app)
    name = f"victim-{uuid.uuid4().hex[:8]}"

    @app.job(name)
    def victim() -> None: ...

    handle = victim().run_now()
    for death in range(POISON_RESCUES):
        [claimed] = app.store.claim(f"host:1:dead-{death}", None, 1, 0.05)  # it dies alone
        assert claimed.id == handle.id
        time.sleep(0.15)  # the lease expires
        app.maintain(app.store, True)
        retried = _sample("conveyor_attempts_retried_total", name)
        assert retried == min(death + 1, POISON_RESCUES - 1), death
    assert handle.state == "failed"
    assert _sample("conveyor_attempts_failed_total", name) == 1
