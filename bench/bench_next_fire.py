"""Next-fire computation: how long ``Schedule.next`` takes per schedule kind.

    python bench/bench_next_fire.py [--repeat 200]

For each text, the time of one ``parse_schedule(text).next(after, 1)`` (parsing included)
and of ``next(after, 100)``, from a fixed start. The later.js texts go through the
constraint engine (``LaterPlan``); the others through cron, rrule or interval plans.
"""

from __future__ import annotations

import argparse
import time
from datetime import UTC, datetime

from conveyor.schedules import parse_schedule

TEXTS = [
    "every 15 minutes",
    "every weekday at 9:30 am",
    "on the last day of the month at 23:00",
    "every 5 mins after 2:00pm before 3:00pm also every 5 min after 6:00pm before 7:00pm",
    "at 10:15am on Friday on the 3rd day instance",
    "at 10:00 except on sat,sun",
    "every 15 minutes except on the 0 minute",
    "on the 53rd week of the year on mon",
    "on the 29th day of feb at 12:00",
    "in 2030",
    "in 2100",
    "every 1 s except every 1 s",
]
AFTER = datetime(2026, 12, 6, 4, 0, tzinfo=UTC)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeat", type=int, default=200)
    args = parser.parse_args()
    print(f"{'text':<60} {'kind':<8} {'next(1)':>10} {'next(100)':>10}")
    for text in TEXTS:
        started = time.perf_counter()
        for _ in range(args.repeat):
            schedule = parse_schedule(text)
            schedule.next(AFTER, 1)
        one = (time.perf_counter() - started) / args.repeat
        started = time.perf_counter()
        found = schedule.next(AFTER, 100)
        hundred = time.perf_counter() - started
        print(f"{text[:60]:<60} {schedule.kind:<8} {one * 1e3:8.2f}ms {hundred * 1e3:8.1f}ms"
              f"  ({len(found)} found)")


if __name__ == "__main__":
    main()
