"""Plain-English descriptions of later.js-style plans (``LaterPlan``)."""

from __future__ import annotations

from conveyor.schedules.laterplan import Compiled, LaterPlan, Spec

_DAYS = ["", "Sunday", "Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday"]
_MONTHS = ["December", "January", "February", "March", "April", "May", "June", "July",
           "August", "September", "October", "November", "December"]  # fmt: skip
_UNITS = {"s": "second", "m": "minute", "h": "hour", "t": "second", "D": "day", "d": "day",
          "dy": "day", "dc": "week", "wm": "week", "wy": "week", "M": "month",
          "Y": "year"}  # fmt: skip
_TOPS = {"D": 31, "dy": 366, "dc": 5, "wm": 5, "wy": 53}
_START = {"day": " at 00:00", "week": " at 00:00 on its first day",
          "month": " at 00:00 on the 1st", "year": " at 00:00 on January 1st"}  # fmt: skip


def describe(plan: LaterPlan) -> str:
    """One sentence: each schedule (joined by "also"), then the exceptions."""
    said = "; also ".join(_schedule(spec, lead=i == 0)
                          for i, spec in enumerate(s for s in plan.schedules if s)) or "Never"
    if plan.exceptions:
        said += "; except " + " or ".join(_schedule(spec, lead=False, during=True)
                                         for spec in plan.exceptions if spec)  # fmt: skip
    return said


def _schedule(spec: Spec, lead: bool = True, during: bool = False) -> str:
    """One schedule; ``during``: an exception, which covers whole periods."""
    values = dict(spec)
    parts: list[str] = []
    if "dc" in values and "d" in values:  # "3rd Friday of the month"
        nths = _join([_ordinal(n) for n in values.pop("dc")], "or")
        parts.append(f"on the {nths} {_join([_day(d) for d in values.pop('d')], 'or')} "
                     "of the month")  # fmt: skip
    parts += [_part(key, vals) for key, vals in values.items()]
    tick = Compiled(spec).tick_key
    unit = _UNITS[tick.split("_")[0]]
    if "_" in tick and not during:  # "after 10:00" alone fires every second from then on
        parts.insert(0, f"every {unit}")
    elif not during and not any(k in values for k in ("t", "s", "m", "h")):
        parts[-1] += _START.get(unit, "")
    text = ", ".join(parts)
    return text[0].upper() + text[1:] if lead else text


def _part(key: str, vals: tuple[int, ...]) -> str:
    name, _, modifier = key.partition("_")
    if modifier:
        value = vals[0] if modifier == "a" else vals[-1]
        shown = _clock(value) if name == "t" else _one(name, value)
        return f"from {shown} on" if modifier == "a" else f"before {shown}"
    if name == "t":
        return "at " + _join([_clock(v) for v in vals])
    if name == "d":
        named = _join([_day(d) for d in sorted(vals, key=lambda d: (d + 5) % 7)], "or")
        return "every day" if len(set(vals)) == 7 else f"on {named}"
    if name == "M":
        return "in " + _join([_month(m) for m in vals], "or")
    if name == "Y":
        years = sorted(set(vals))
        step = years[1] - years[0] if len(years) > 3 else 0
        if step and years == list(range(years[0], years[-1] + 1, step)) and years[-1] + step > 2450:
            return "every year" if step == 1 else f"every {_ordinal(step)} year from {years[0]}"
        return "in " + _join([str(y) for y in vals], "or")
    where = {"s": "of each minute", "m": "of each hour", "h": "of the day",
             "D": "of the month", "dy": "of the year", "dc": "of the month (days 1-7 are the 1st)",
             "wm": "of the month", "wy": "of the year (ISO weeks)"}[name]  # fmt: skip
    what = {"s": "second", "m": "minute", "h": "hour", "D": "day", "dy": "day",
            "dc": "day instance", "wm": "week", "wy": "week"}[name]  # fmt: skip
    if name in "smh":
        return _clock_field(what, vals, 23 if name == "h" else 59, where)
    ordered = sorted(set(vals))
    step = ordered[1] - ordered[0] if len(ordered) > 3 else 0
    if step and ordered == list(range(ordered[0], ordered[-1] + 1, step)):
        if ordered[0] == 1 and ordered[-1] + step > _TOPS[name]:
            return f"every {what}" if step == 1 else f"on every {_ordinal(step)} {what} {where}"
        every = f"{what}" if step == 1 else f"{_ordinal(step)} {what}"
        return (f"on every {every} {where}, from the {_ordinal(ordered[0])} "
                f"to the {_ordinal(ordered[-1])}")  # fmt: skip
    return f"on the {_join([_ordinal(v) for v in vals], 'or')} {what} {where}"


def _clock_field(what: str, vals: tuple[int, ...], top: int, where: str) -> str:
    """Seconds, minutes or hours: "every 15 minutes", "at minute 15 and 45 of each hour"."""
    ordered = sorted(set(vals))
    step = ordered[1] - ordered[0] if len(ordered) > 2 else 0
    if not step or ordered != list(range(ordered[0], ordered[-1] + 1, step)):
        return f"at {what} {_join([str(v) for v in ordered])} {where}"
    every = f"every {what}" if step == 1 else f"every {step} {what}s"
    if ordered[0] == 0 and ordered[-1] + step > top:
        return every
    return f"{every} from {what} {ordered[0]} to {ordered[-1]} {where}"


def _one(name: str, value: int) -> str:
    if name == "d":
        return _day(value)
    if name == "M":
        return _month(value)
    if name == "Y":
        return str(value)
    what = {"s": "second", "m": "minute", "h": "hour", "D": "day", "dy": "day of the year",
            "dc": "day instance", "wm": "week of the month",
            "wy": "week of the year"}[name]  # fmt: skip
    return f"{what} {value}" if name in "smh" else f"the {_ordinal(value)} {what}"


def _day(value: int) -> str:
    return _DAYS[value or 7] if 0 <= value <= 7 else f"day {value} of the week (never)"


def _month(value: int) -> str:
    return _MONTHS[value] if 0 <= value <= 12 else f"month {value} (never)"


def _clock(seconds: int) -> str:
    h, rest = divmod(seconds, 3600)
    m, s = divmod(rest, 60)
    return f"{h:02d}:{m:02d}" + (f":{s:02d}" if s else "")


def _ordinal(n: int) -> str:
    if n == 0:
        return "last"
    suffix = "th" if 10 <= n % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")
    return f"{n}{suffix}"


def _join(items: list[str], last: str = "and") -> str:
    if not items:
        return "nothing"
    return items[0] if len(items) == 1 else f"{', '.join(items[:-1])} {last} {items[-1]}"
