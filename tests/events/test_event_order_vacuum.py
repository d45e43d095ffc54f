"""SQLite orders events sent at one instant by the rowid of conveyor_events, whose TEXT
primary key makes it implicit (not an alias): an order VACUUM must keep. It does: the
table has an index (its primary key's), so VACUUM copies rows with their rowids, and
where SQLite renumbers (a table with no index) it copies them in rowid order."""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime, timedelta
from pathlib import Path
from random import Random
from typing import Any

from conveyor import Conveyor
from conveyor.testing.conformance.helpers import ManualClock, drain

START = datetime(2031, 5, 4, 12, 0, tzinfo=UTC)


def _vacuum(path: Path, *statements: str) -> None:
    raw = sqlite3.connect(path, isolation_level=None)
    try:
        for sql in statements:
            raw.execute(sql)
        raw.execute("VACUUM")
    finally:
        raw.close()


def test_events_sent_at_one_instant_keep_their_order_through_vacuum(tmp_path: Path) -> None:
    path, clock = tmp_path / "jobs.db", ManualClock(START)
    ids = [f"event-{n:02d}" for n in Random(11).sample(range(30), 30)]  # not in id order
    with Conveyor(f"sqlite:///{path}", clock=clock) as app:

        @app.job(trigger=app.event("tick"))
        def on_tick(payload: Any) -> Any:
            return payload

        for n, event_id in enumerate(ids):
            app.send_event("tick", n, id=event_id, deliver_at=START + timedelta(hours=1))
        # Gaps in the rowids (the first events gone, as a purge would), then VACUUM.
        gone = ", ".join(f"'{i}'" for i in ids[:5])
        _vacuum(path, f"DELETE FROM conveyor_events WHERE id IN ({gone})")
        kept = ids[5:]
        assert [e.id for e in app.events_list(limit=30)] == kept[::-1]
        pages = [app.events_list(limit=4, offset=at) for at in range(0, 25, 4)]
        assert [e.id for page in pages for e in page] == kept[::-1]
        clock.advance(hours=1)
        drain(app)
        delivered = [app.get_event(event_id) for event_id in kept]
        runs = [run for event in delivered if event is not None for run in event.runs]
        assert len(runs) == 25 and runs == sorted(runs)  # started in the order sent
        assert [app.get_job(run).result for run in runs] == list(range(5, 30))  # type: ignore[union-attr]
