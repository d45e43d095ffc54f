"""Schedule text (cron or plain English) -> next fire times; pure, no storage.

>>> from datetime import datetime, UTC
>>> s = parse_schedule("every weekday at 9:30 am", tz="Europe/Paris")
>>> s.cron
'30 9 * * 1-5'
>>> s.next(after=datetime(2024, 1, 5, 12, 0, tzinfo=UTC))
[datetime.datetime(2024, 1, 8, 8, 30, tzinfo=datetime.timezone.utc)]
"""

from conveyor.schedules.schedule import Schedule, parse_schedule

__all__ = ["Schedule", "parse_schedule"]
