"""``Schedule`` and ``parse_schedule``: cron or plain-English text -> next fire times."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime, tzinfo
from typing import Any, Literal, cast, get_args
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from conveyor.errors import ScheduleError
from conveyor.schedules.cron import explain_cron, looks_like_cron, parse_cron
from conveyor.schedules.phrase import EXAMPLES
from conveyor.schedules.plans import CronPlan, OncePlan, Plan, plan_from_json
from conveyor.schedules.reader import read_english
from conveyor.timeunits import zone_key

Kind = Literal["cron", "rrule", "interval", "once"]
_JSON_VERSION = 1


class Schedule:
    """A parsed schedule: when a recurring (or one-off) job fires.

    ``text`` is what the user wrote, ``tz`` the IANA zone its times are read in, ``kind``
    one of "cron", "rrule", "interval" or "once". Build one with ``parse_schedule`` or
    ``Schedule.from_json``.
    """

    __slots__ = ("_description", "_plan", "_zone", "kind", "text", "tz")

    def __init__(self, text: str, tz: str, kind: Kind, plan: Plan, description: str) -> None:
        self.text = text
        self.tz = tz
        self.kind: Kind = kind
        self._plan = plan
        self._description = description
        self._zone = zone_for(tz)

    @property
    def cron(self) -> str | None:
        """The cron expression when ``kind == "cron"``, else None."""
        return self._plan.expr if isinstance(self._plan, CronPlan) and self.kind == "cron" else None

    @property
    def is_recurring(self) -> bool:
        """False for one-off schedules (``once``, ``in 5 minutes``)."""
        return self.kind != "once"

    def next(self, after: datetime | None = None, count: int = 1) -> list[datetime]:
        """The next ``count`` fire times strictly after ``after`` (default: now), aware, in UTC.

        A naive ``after`` is read as UTC. Fewer (or none) come back when the schedule ends
        (a one-off that has fired, or nothing left before the year 9999).
        """
        if isinstance(count, bool) or not isinstance(count, int) or count < 0:
            raise ScheduleError(f"invalid count {count!r}; accepted: a whole number >= 0")
        if after is not None and not isinstance(after, datetime):
            raise ScheduleError(f"invalid after {after!r}; accepted: a datetime or None")
        start = as_utc(after) if after is not None else datetime.now(UTC)
        found: list[datetime] = []
        try:
            for moment in self._plan.occurrences(start, self._zone) if count else ():
                if moment > (found[-1] if found else start):
                    found.append(moment)
                    if len(found) == count:
                        break
        except OverflowError:  # ran past datetime.max
            pass
        return found

    def explain(self) -> str:
        """One English sentence, e.g. "At 09:30 on Monday through Friday (Europe/Paris time)"."""
        suffix = "" if self.tz == "UTC" else f" ({self.tz} time)"
        if isinstance(self._plan, OncePlan):
            return f"Once, at {self._plan.at.astimezone(self._zone):%Y-%m-%d %H:%M:%S}{suffix}"
        return self._description + suffix

    def to_json(self) -> dict[str, Any]:
        """A JSON-able dict that ``from_json`` turns back into an equal schedule."""
        return {
            "version": _JSON_VERSION,
            "text": self.text,
            "tz": self.tz,
            "kind": self.kind,
            "description": self._description,
            "plan": self._plan.to_json(),
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Schedule:
        """Rebuild a schedule stored with ``to_json`` (without re-reading its text)."""
        try:
            version, text, tz, kind = data["version"], data["text"], data["tz"], data["kind"]
            description, plan = data["description"], data["plan"]
        except (KeyError, TypeError) as exc:
            raise ScheduleError(f"cannot load schedule from {data!r}: missing {exc}") from None
        if version != _JSON_VERSION or kind not in get_args(Kind):
            raise ScheduleError(f"cannot load schedule from {data!r}: unknown version or kind")
        if not (isinstance(text, str) and isinstance(description, str) and isinstance(plan, dict)):
            raise ScheduleError(f"cannot load schedule from {data!r}: wrong field types")
        return cls(text, zone_name(tz), cast(Kind, kind), plan_from_json(plan), description)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Schedule) and self.to_json() == other.to_json()

    def __hash__(self) -> int:
        return hash((self.text, self.tz, self.kind, repr(self._plan)))

    def __repr__(self) -> str:
        return f"Schedule({self.text!r}, tz={self.tz!r}, kind={self.kind!r})"


def parse_schedule(
    text: str, tz: str | tzinfo | None = None, anchor: datetime | None = None
) -> Schedule:
    """Read cron text (5 or 6 fields, or an ``@alias``) or plain English.

    ``tz`` (an IANA name or its ZoneInfo, default "UTC") is the zone the schedule's times
    are read in.
    ``anchor`` (default: now) is when the schedule was created: intervals longer than their
    enclosing period (``every 90 minutes``, ``every 2 weeks``) and one-offs (``once``,
    ``in 5 minutes``) count from it. Raises ScheduleError for unreadable text or zone.
    """
    name = zone_name(tz)
    if not isinstance(text, str):
        raise ScheduleError(f"a schedule is text, not {type(text).__name__} {text!r}; "
                            f"examples: {EXAMPLES}")
    clean = " ".join(text.split())
    if looks_like_cron(clean):
        expr = parse_cron(clean)
        return Schedule(text, name, "cron", CronPlan(expr), explain_cron(expr))
    created = as_utc(anchor) if anchor is not None else datetime.now(UTC)
    compiled = read_english(clean, zone_for(name), created)
    return Schedule(text, name, cast(Kind, compiled.kind), compiled.plan, compiled.description)


def zone_name(tz: str | tzinfo | None) -> str:
    """Validate an IANA time-zone name or its ``ZoneInfo`` (None and any spelling of "utc"
    mean "UTC")."""
    tz = zone_key(tz)  # type: ignore[assignment]
    if tz is None or (isinstance(tz, str) and tz.upper() == "UTC"):
        return "UTC"
    try:
        if not isinstance(tz, str):
            raise TypeError(tz)
        ZoneInfo(tz)
    except (ZoneInfoNotFoundError, ValueError, OSError, TypeError):
        raise ScheduleError(
            f'unknown time zone "{tz}"; use an IANA name such as "Europe/Paris" or "UTC"'
        ) from None
    return tz


def zone_for(name: str) -> ZoneInfo:
    """The ZoneInfo for a name validated by ``zone_name``."""
    return ZoneInfo(name)


def as_utc(moment: datetime) -> datetime:
    """Aware UTC datetime; a naive one is taken to be UTC already."""
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)
