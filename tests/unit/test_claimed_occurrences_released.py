"""A claimed schedule occurrence whose extensions could not look at it (the store went
away and the worker gave up) is released, not left running until its lease expires."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from conveyor import Conveyor
from conveyor.errors import StoreError
from conveyor.worker.duties import Duties


def test_an_occurrence_is_released_when_the_worker_gives_up_on_the_store(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    app = Conveyor(f"sqlite:///{tmp_path / 'app.db'}")

    @app.job(name="tick")
    def tick(n: int) -> int:
        return n

    handle = app.schedule_job("tick", {"n": 1}, schedule="every 1 second")

    def unreachable(self: Duties, store: Any, jobs: Any) -> Any:
        raise StoreError("the store went away")

    monkeypatch.setattr(Duties, "claimed", unreachable)
    with pytest.raises(Exception, match="unreachable"):
        app.run_worker(outage_tolerance=0.3)  # the occurrence is due in a second
    record = app.get_job(handle.id)
    assert record is not None and record.state != "running"
    app.close()
