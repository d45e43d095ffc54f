"""SPEC §6: conveyor's plain-English phrasings (every day|weekday|weekend|monday…, at
noon|midnight|9 am|17:00 with "and" or commas, on the 1st|last day of the month, every N
minutes|hours aligned like cron's */N, the documented "between" extensions), in
any combination the grammar allows, fire when ``test_later_model``'s model says."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from hypothesis import given, settings
from hypothesis import strategies as st

from conveyor import parse_schedule
from tests.acceptance.blind_i.test_later_model import DAY_NAMES, ZONES, Model, spell_time

FULL_DAYS = [names[-1] for names in DAY_NAMES]  # sunday .. saturday


def joined(draw: st.DrawFn, words: list[str]) -> str:
    """``a``, ``a and b``, ``a, b and c`` or ``a, b, c``."""
    if len(words) == 1:
        return words[0]
    if draw(st.booleans()):
        return ", ".join(words[:-1]) + " and " + words[-1]
    return ", ".join(words)


def time_words(draw: st.DrawFn, hour: int, minute: int) -> str:
    if minute == 0 and hour in (0, 12) and draw(st.booleans()):
        return "midnight" if hour == 0 else "noon"
    if minute == 0 and draw(st.booleans()):
        twelve = hour % 12 or 12
        return f"{twelve}{draw(st.sampled_from(['', ' ']))}{'am' if hour < 12 else 'pm'}"
    return spell_time(draw, hour, minute)


@st.composite
def days_part(draw: st.DrawFn, model: Model) -> None:
    kind = draw(st.sampled_from(["day", "daily", "weekday", "weekend", "names"]))
    if kind in ("day", "daily"):
        model.parts.append("every day" if kind == "day" else "daily")
        model.weekdays = set(range(7))
    elif kind in ("weekday", "weekend"):
        model.parts.append(f"every {kind}")
        model.weekdays = {1, 2, 3, 4, 5} if kind == "weekday" else {0, 6}
    else:
        picked = draw(st.lists(st.integers(0, 6), min_size=1, max_size=3, unique=True))
        model.weekdays = set(picked)
        model.parts.append("every " + joined(draw, [FULL_DAYS[d] for d in picked]))
    model.finer("day")


@st.composite
def english(draw: st.DrawFn) -> Model:
    model = Model()
    shape = draw(st.sampled_from(["clock", "interval", "between_hours", "between_times"]))
    if shape == "interval":
        unit = draw(st.sampled_from(["minute", "hour"]))
        n = draw(st.integers(1, 59 if unit == "minute" else 23))
        model.parts.append(f"every {n} {unit}{'s' if n > 1 else ''}")
        setattr(model, f"{unit}s", set(range(0, 60 if unit == "minute" else 24, n)))
        model.finer(unit)
    elif shape == "between_hours":
        n, lo = draw(st.integers(1, 6)), draw(st.integers(0, 22))
        hi = draw(st.integers(lo + 1, 23))
        model.parts.append(
            f"every {n} hours between {time_words(draw, lo, 0)} and {time_words(draw, hi, 0)}"
        )
        model.hours = set(range(lo, hi + 1, n))
        model.finer("hour")
    elif shape == "between_times":
        n, lo = draw(st.sampled_from([5, 10, 15, 20, 30])), draw(st.integers(0, 22))
        hi = draw(st.integers(lo + 1, 23))
        model.parts.append(f"every {n} minutes between {lo}:00 and {hi}:00")
        model.minutes, model.after, model.before = set(range(0, 60, n)), (lo, 0), (hi, 0)
        model.finer("minute")
    else:
        times = draw(
            st.lists(
                st.tuples(st.integers(0, 23), st.sampled_from([0, 15, 30, 59])),
                min_size=1,
                max_size=3,
                unique=True,
            )
        )
        model.times = set(times)
        model.parts.append("at " + joined(draw, [time_words(draw, h, m) for h, m in times]))
        model.finer("minute")
    if draw(st.booleans()):
        draw(days_part(model))
    elif shape == "clock" and draw(st.booleans()):
        last = draw(st.booleans())
        model.parts.append("on the last day of the month" if last else "on the 1st day of "
                           "the month")  # fmt: skip
        model.last_day, model.days = last, None if last else {1}
        model.finer("day")
    if draw(st.booleans()):
        model.parts.reverse()
    return model


@settings(max_examples=120, deadline=None)
@given(
    model=english(),
    zone=st.sampled_from(ZONES),
    after=st.datetimes(datetime(2029, 1, 1), datetime(2031, 12, 31), timezones=st.just(UTC)),
)
def test_an_english_phrase_fires_when_the_model_says(
    model: Model, zone: str, after: datetime
) -> None:
    text = " ".join(model.parts)
    got = parse_schedule(text, tz=zone).next(after=after, count=4)
    assert got == model.next(after, ZoneInfo(zone), 4), text
