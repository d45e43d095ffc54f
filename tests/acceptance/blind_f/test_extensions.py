"""SPEC §6: the phrasings conveyor reads on top of later.js are listed in the docs, each
with the later.js text that means the same; each pair must fire at the same times."""

from __future__ import annotations

import pytest

from tests.acceptance.blind_surface.support import _next


@pytest.mark.parametrize(("extension", "later_js"), [
    ("every day", "every 1 day"), ("daily", "every 1 day"), ("everyday", "every 1 day"),
    ("every day at 10:00", "at 10:00"), ("at 10:00 every day", "at 10:00"),
    ("at 10:00 daily", "at 10:00"), ("every hour", "every 1 hour"),
    ("hourly", "every 1 hour"), ("every minute", "every 1 min"), ("every second", "every 1 s"),
    ("every month", "on the first day of the month"),
    ("monthly", "on the first day of the month"),
    ("every month at 9:00", "on the first day of the month at 9:00"),
    ("every year", "on the first day of the year"), ("annually", "on the first day of the year"),
    ("every monday", "on mon"), ("every monday at 9:00", "at 9:00 on mon"),
    ("on monday at 9", "at 9:00 on mon"), ("every other day", "every 2 days"),
    ("every other hour", "every 2 hours"), ("each 5 minutes", "every 5 minutes"),
    ("at noon", "at 12:00"), ("at midnight", "at 00:00"), ("at 10", "at 10:00"),
    ("at 10 am", "at 10:00"), ("at 10am", "at 10:00"), ("@ 6:00am", "at 6:00am"),
    ("every 3 hr", "every 3 hours"), ("of jun", "of june"), ("of sep", "of sept"),
    ("of jan and jul", "of january and july"), ("on mondays", "on mon"),
    ("on fri-mon", "on fri,sat,sun,mon"), ("of nov-feb", "of nov,dec,jan,feb"),
    ("every 2 hours between 9 am and 5 pm", "every 2 hours between the 9th and 17th"),
    ("every 2 hours from 9:00 to 17:00", "every 2 hours between the 9th and 17th"),
    ("every 15 minutes between 9:00 and 17:00", "every 15 minutes after 9:00 before 17:00"),
    ("at 9:00 on the weekend", "at 9:00 every weekend"), ("on the 5th", "on the 5th day"),
    ("on the 1st of the month", "on the 1st day of the month"),
    ("on the 3rd friday", "on the 3rd day instance on fri"),
    ("on the last friday of the month", "on the last day instance on fri"),
])
def test_each_extension_means_its_later_js_twin(extension: str, later_js: str) -> None:
    assert _next(extension, count=8) == _next(later_js, count=8)
