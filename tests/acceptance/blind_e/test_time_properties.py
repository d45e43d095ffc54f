"""SPEC §3/§4 times as properties: ``run_at`` stores the very instant it is given, in any
timezone, folds included (read back as aware UTC, to the microsecond, on every store);
``run_in`` of millisecond…week is that exact span from the app clock."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from conveyor import Conveyor
from tests.acceptance.blind_core.support import START, record

ZONES = st.sampled_from([UTC, ZoneInfo("Europe/Paris"), ZoneInfo("America/St_Johns"),
                         ZoneInfo("Asia/Kathmandu"), ZoneInfo("Australia/Lord_Howe"),
                         ZoneInfo("Pacific/Chatham")])
# float epoch seconds hold every microsecond from about 1690 to 2250
WHEN = st.datetimes(min_value=datetime(1700, 1, 1), max_value=datetime(2200, 1, 1),
                    timezones=ZONES, allow_imaginary=False)
FIXTURE_REUSED = settings(max_examples=15,
                          suppress_health_check=[
                              HealthCheck.too_slow, HealthCheck.function_scoped_fixture])


@FIXTURE_REUSED
@given(when=WHEN)
def test_run_at_stores_the_instant_given(app: Conveyor, when: datetime) -> None:
    if "at" not in app.jobs:
        app.job("at")(lambda: None)
    rec = record(app, app.jobs["at"]().run_at(when))
    # (== across zones is False for a time in a fold, PEP 495: compare in UTC)
    assert rec.run_at == when.astimezone(UTC) and rec.run_at.utcoffset() == timedelta(0)
    assert rec.state == ("scheduled" if when > datetime.now(UTC) else "queued")


SPANS = {"millisecond": 0.001, "second": 1, "minute": 60, "hour": 3600, "day": 86400,
         "week": 604800}


@FIXTURE_REUSED
@given(n=st.integers(0, 10_000) | st.floats(0, 1e4), unit=st.sampled_from(sorted(SPANS)),
       plural=st.booleans())
def test_run_in_is_that_span_from_the_clock(capp: Conveyor, n: Any, unit: str,
                                           plural: bool) -> None:
    if "later" not in capp.jobs:
        capp.job("later")(lambda: None)
    rec = record(capp, capp.jobs["later"]().run_in(n, unit + "s" * plural))
    assert rec.run_at is not None
    assert abs((rec.run_at - START).total_seconds() - n * SPANS[unit]) <= 2e-6
