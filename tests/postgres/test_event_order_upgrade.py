"""Upgrading to migration 0022 (events sent at one instant keep their order) does not
rewrite conveyor_events (a table of many events, locked while it is rewritten): new
events are numbered from then on, those stored before sort as sent before them."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from conveyor import Conveyor
from conveyor.stores.postgres import PostgresStore
from conveyor.stores.postgres.migrations import available
from conveyor.testing.conformance.helpers import ManualClock, drain
from tests.postgres.helpers import connect

START = datetime(2031, 5, 4, 12, 0, tzinfo=UTC)
LATER = START + timedelta(hours=1)
INSERT = ("INSERT INTO conveyor_events (id, name, payload, sent_at, deliver_at) "
          "VALUES (%s, 'tick', %s, %s, %s)")


def test_the_upgrade_keeps_the_table_and_orders_older_events_first(pg_url: str) -> None:
    store = PostgresStore(pg_url)
    upto = [name for name, _ in available()].index("0022_event_order")  # those before it
    try:
        store.migrate_to(upto)
        with connect(pg_url) as conn:
            for n in range(3):  # stored before the upgrade, at the same instant
                conn.execute(INSERT, (f"old-{n}", str(n), START.timestamp(), LATER.timestamp()))
            before = conn.execute("SELECT pg_relation_filenode('conveyor_events')").fetchone()
            store.migrate_to(upto + 1)
            after = conn.execute("SELECT pg_relation_filenode('conveyor_events')").fetchone()
        assert before == after, "migration 0022 rewrote conveyor_events"
    finally:
        store.close()
    clock = ManualClock(START)
    with Conveyor(pg_url, clock=clock) as app:

        @app.job(trigger=app.event("tick"))
        def on_tick(payload: Any) -> Any:
            return payload

        for n in range(3, 6):
            app.send_event("tick", n, id=f"new-{n}", deliver_at=LATER)
        listed = [e.id for e in app.events_list(limit=10)]
        assert listed[:3] == ["new-5", "new-4", "new-3"]
        assert sorted(listed[3:]) == ["old-0", "old-1", "old-2"]
        clock.advance(hours=1)
        drain(app)
        runs = {e: app.get_event(e).runs[0] for e in listed}  # type: ignore[union-attr]
        old, new = [runs[f"old-{n}"] for n in range(3)], [runs[f"new-{n}"] for n in range(3, 6)]
        assert max(old) < min(new) and new == sorted(new)  # delivered in the order sent
