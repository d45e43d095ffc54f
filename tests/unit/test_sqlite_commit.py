"""A SQLite COMMIT that fails leaves nothing committed and no transaction open: the store
raises one clear StoreError, and the call can simply be made again (a claim that failed
to commit claimed nothing)."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

import pytest

from conveyor import Conveyor
from conveyor.errors import StoreError


class CommitFailsOnce:
    """A connection whose next COMMIT fails (as a disk error would)."""

    def __init__(self, real: sqlite3.Connection) -> None:
        self.real = real
        self.failed = False

    def execute(self, sql: str, *args: Any) -> sqlite3.Cursor:
        if sql == "COMMIT" and not self.failed:
            self.failed = True
            raise sqlite3.OperationalError("disk I/O error (injected)")
        return self.real.execute(sql, *args)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.real, name)


def test_a_claim_whose_commit_failed_claimed_nothing_and_the_next_one_works(
    tmp_path: Path
) -> None:
    app = Conveyor(f"sqlite:///{tmp_path / 'jobs.db'}")

    @app.job
    def one() -> None: ...

    handle = one().run_now()
    store = app.store
    real = store.db.conn
    store.db.conn = CommitFailsOnce(real)  # type: ignore[assignment]
    with pytest.raises(StoreError, match="disk I/O error"):
        store.claim("w", None, 5, 30)
    assert not real.in_transaction
    assert handle.state == "queued"
    assert [j.id for j in store.claim("w", None, 5, 30)] == [handle.id]
    app.close()
