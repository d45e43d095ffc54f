"""Wall-clock times in a zone -> UTC, with cron's daylight-saving rule."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo


def localize(naive: datetime, zone: ZoneInfo) -> datetime:
    """Turn a wall-clock time in ``zone`` into an aware UTC datetime (cronsim's DST rule)."""
    while True:
        local = naive.replace(tzinfo=zone, fold=0)
        if local.astimezone(UTC).astimezone(zone).replace(tzinfo=None) == naive:
            return local.astimezone(UTC)
        naive += timedelta(minutes=1)  # inside a spring-forward gap: move past it
