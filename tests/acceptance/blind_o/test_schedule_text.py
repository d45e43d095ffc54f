"""§6 ``parse_schedule``: odd-but-valid spellings, aliases, 12-hour edge times, zones,
``next`` arguments, and refusals that name the word they could not read."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from conveyor import Schedule, parse_schedule

AFTER = datetime(2030, 1, 7, 8, 0, tzinfo=UTC)  # a Monday
PARIS = ZoneInfo("Europe/Paris")


def _next(text: str, count: int = 3, after: datetime = AFTER, tz: object = None) -> list[datetime]:
    return parse_schedule(text, tz=tz).next(after=after, count=count)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("alias", "same_as"),
    [
        ("@daily", "0 0 * * *"),
        ("@hourly", "0 * * * *"),
        ("@weekly", "0 0 * * 0"),
        ("@monthly", "0 0 1 * *"),
        ("@yearly", "0 0 1 1 *"),
        ("@annually", "0 0 1 1 *"),
        ("@midnight", "0 0 * * *"),
    ],
)
def test_cron_aliases_mean_their_five_field_forms(alias: str, same_as: str) -> None:
    assert _next(alias) == _next(same_as)


@pytest.mark.parametrize(
    ("text", "hour", "minute"),
    [
        ("every day at 12 am", 0, 0),
        ("every day at 12:30 am", 0, 30),
        ("every day at 12 pm", 12, 0),
        ("every day at 12:01 pm", 12, 1),
        ("every day at noon", 12, 0),
        ("every day at midnight", 0, 0),
        ("every day at 00:00", 0, 0),
        ("every day at 23:59", 23, 59),
        ("every day at 9:05 PM", 21, 5),
    ],
)
def test_twelve_hour_edge_times(text: str, hour: int, minute: int) -> None:
    first = _next(text, count=1)[0].astimezone(UTC)
    assert (first.hour, first.minute) == (hour, minute), text


def test_several_days_and_times_with_and_and_commas() -> None:
    times = _next("every monday, wednesday and friday at 9:00 and 17:30", count=6)
    local = [(t.astimezone(UTC).strftime("%a"), t.astimezone(UTC).strftime("%H:%M")) for t in times]
    assert local == [
        ("Mon", "09:00"),
        ("Mon", "17:30"),
        ("Wed", "09:00"),
        ("Wed", "17:30"),
        ("Fri", "09:00"),
        ("Fri", "17:30"),
    ]


@pytest.mark.parametrize(
    ("text", "step"),
    [
        ("every 1 second", timedelta(seconds=1)),
        ("every 1 seconds", timedelta(seconds=1)),
        ("every 30 SECONDS", timedelta(seconds=30)),
        ("every 2 hour", timedelta(hours=2)),
        ("Every 10 Minutes", timedelta(minutes=10)),
    ],
)
def test_singular_plural_and_case_do_not_matter(text: str, step: timedelta) -> None:
    times = _next(text, count=3)
    assert times[1] - times[0] == step and times[2] - times[1] == step


def test_six_field_cron_has_seconds_first() -> None:
    times = _next("*/20 * * * * *", count=4)
    assert [t.astimezone(UTC).second for t in times] == [20, 40, 0, 20]


def test_cron_day_names_and_sunday_as_seven() -> None:
    assert _next("0 9 * * MON-FRI", count=5) == _next("every weekday at 9:00", count=5)
    assert _next("0 9 * * 7", count=2) == _next("0 9 * * 0", count=2)
    assert _next("0 9 * * 7", count=1)[0].astimezone(UTC).strftime("%a") == "Sun"


def test_last_day_of_the_month_through_a_leap_february() -> None:
    after = datetime(2028, 1, 15, tzinfo=UTC)
    days = [
        t.astimezone(UTC).date().isoformat()
        for t in _next("on the last day of the month", 3, after)
    ]
    assert days == ["2028-01-31", "2028-02-29", "2028-03-31"]


def test_next_is_strictly_after_and_count_gives_that_many_ascending() -> None:
    on_the_hour = datetime(2030, 1, 7, 9, 0, tzinfo=UTC)
    times = _next("@hourly", count=5, after=on_the_hour)
    assert len(times) == 5 and times[0] == on_the_hour + timedelta(hours=1)
    assert times == sorted(times) and len(set(times)) == 5
    assert all(t.tzinfo is not None for t in times)
    assert _next("@hourly", count=1, after=on_the_hour) == times[:1]


def test_after_in_another_zone_is_the_same_instant() -> None:
    tokyo = AFTER.astimezone(ZoneInfo("Asia/Tokyo"))
    assert _next("every 15 minutes", after=tokyo) == _next("every 15 minutes")


def test_next_without_after_starts_from_now() -> None:
    schedule = parse_schedule("every 1 second")
    before = datetime.now(UTC)
    [first] = schedule.next()
    assert before < first <= before + timedelta(seconds=2)


def test_a_zoned_cron_follows_the_wall_clock_across_both_dst_changes() -> None:
    times = _next(
        "30 9 * * *", count=300, after=datetime(2030, 1, 1, tzinfo=UTC), tz="Europe/Paris"
    )
    assert {t.astimezone(PARIS).strftime("%H:%M") for t in times} == {"09:30"}
    assert {t.astimezone(UTC).hour for t in times} == {7, 8}


def test_a_zone_object_and_its_name_read_alike() -> None:
    assert _next("every day at 9:00", tz=PARIS) == _next("every day at 9:00", tz="Europe/Paris")


def test_explain_is_a_sentence_for_english_and_cron() -> None:
    for text in ("every weekday at 9:30 am", "*/5 * * * *", "@daily", "every 90 minutes"):
        schedule = parse_schedule(text)
        assert isinstance(schedule, Schedule)
        sentence = schedule.explain()
        assert isinstance(sentence, str) and len(sentence.split()) >= 2, text


@pytest.mark.parametrize(
    ("text", "word"),
    [
        ("every funday", "funday"),
        ("every day at 25:00", "25:00"),
        ("every 5 parsecs", "parsecs"),
        ("every day at 9:75", "9:75"),
        ("every 0 minutes", "0"),
        ("every minutes", "minutes"),
        ("sometimes", "sometimes"),
    ],
)
def test_unreadable_text_names_the_word_and_shows_examples(text: str, word: str) -> None:
    with pytest.raises(ValueError) as caught:
        parse_schedule(text)
    message = str(caught.value)
    assert word in message, message
    assert "every" in message.replace(text, "")  # an example beside the echoed text


@pytest.mark.parametrize(
    "text", ["", "   ", "* * * *", "61 * * * *", "* * * * * * *", "@fortnightly"]
)
def test_broken_cron_and_empty_text_are_refused(text: str) -> None:
    with pytest.raises(ValueError):
        parse_schedule(text)


def test_an_unknown_zone_is_refused_naming_it() -> None:
    with pytest.raises(ValueError) as caught:
        parse_schedule("@daily", tz="Europe/Atlantis")
    assert "Europe/Atlantis" in str(caught.value)
