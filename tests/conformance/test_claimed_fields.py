"""A claim hands the worker what was stored, exactly (every store): text of any kind,
and floats to the last bit (SQLite's claim reads its rows as one JSON value)."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from conveyor import Conveyor
from conveyor.stores.base import Outcome
from tests.support import overwrite

TEXT = st.text(st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"))


@pytest.fixture
def echo(app: Conveyor) -> Any:
    @app.job
    def echo(*args: Any, **kwargs: Any) -> None: ...

    return echo


def _claim_one(app: Conveyor, job_id: int) -> Any:
    (claimed,) = app.store.claim("w", None, 10, 30.0)
    assert claimed.id == job_id
    app.store.complete([Outcome(claimed.id, claimed.token, "completed", app.store.now())])
    return claimed


@settings(max_examples=40, deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(text=TEXT, key=TEXT, run_at=st.floats(0.0, 1.7e9), timeout=st.floats(1e-6, 1e7))
def test_a_claim_returns_the_stored_values_exactly(
    app: Conveyor, echo: Any, text: str, key: str, run_at: float, timeout: float
) -> None:
    handle = echo(text, [text, 1.5, None], k=text).run_now(key=key or None)
    overwrite(app, "jobs", handle.id, run_at=run_at, timeout=timeout)
    claimed = _claim_one(app, handle.id)
    assert (claimed.run_at, claimed.timeout) == (run_at, timeout)
    assert json.loads(claimed.args) == [text, [text, 1.5, None]]
    assert json.loads(claimed.kwargs) == {"k": text}
    assert claimed.key == (key or None) and claimed.job == "echo" and claimed.attempt == 1
    record = app.get_job(handle.id)
    assert record is not None and record.state == "completed"


def test_claimed_fields_of_a_plain_job(app: Conveyor, echo: Any) -> None:
    handle = echo("x").run_now()
    claimed = _claim_one(app, handle.id)
    assert claimed.timeout is None and claimed.owner is None and claimed.queue == "default"
    assert claimed.started_at >= claimed.run_at and claimed.max_attempts >= 1
