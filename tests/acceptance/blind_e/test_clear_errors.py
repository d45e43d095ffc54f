"""SPEC §1-4: bad input to the app, a definition, a trigger, ``Retry`` or a handle is one
``ValueError``-family error that says what was wrong and what is accepted."""

from __future__ import annotations

import asyncio
import math
from datetime import UTC, date, datetime
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from conveyor import Conveyor, Retry
from tests.acceptance.blind_core.support import UNITS, record
from tests.acceptance.blind_e.support import refused

BAD_APP_OPTIONS = [
    ({"max_depth": 0}, "max_depth"), ({"max_depth": True}, "max_depth"),
    ({"max_depth": 2**63}, "max_depth"), ({"max_payload": -1}, "max_payload"),
    ({"max_payload": 1.5}, "max_payload"), ({"max_payload": "1 MiB"}, "max_payload"),
    ({"lease": True}, "lease"), ({"lease": "soon"}, "lease"), ({"timezone": 5}, "timezone"),
    ({"timezone": "Europe/Paris\x00"}, "timezone"), ({"timezone": "../../etc/passwd"}, "timezone"),
    ({"retention": -5}, "retention"), ({"retention": math.nan}, "retention"),
    ({"retention": "forever"}, "retention"), ({"colour": "red"}, "colour"),
]


@pytest.mark.parametrize(("options", "named"), BAD_APP_OPTIONS, ids=repr)
def test_bad_app_options_name_the_option_and_what_is_accepted(options: dict[str, Any],
                                                              named: str) -> None:
    refused(lambda: Conveyor("memory://", **options), named, "accepted")


@pytest.mark.parametrize("url", [" ", 5, "sqlite://", "sqlite:///", "sqlite:/x.db",
                                 "mysql://localhost/db"], ids=repr)
def test_a_bad_url_is_a_value_error_showing_the_accepted_ones(url: Any) -> None:
    refused(lambda: Conveyor(url), "sqlite:///", "memory://")


class Clock:
    def __init__(self, now: Any) -> None:
        self.value = now

    def now(self) -> Any:
        return self.value


@pytest.mark.parametrize("now", ["2031-01-01", None, 1_900_000_000], ids=repr)
def test_a_clock_that_gives_no_aware_datetime_is_refused(now: Any) -> None:
    def trigger() -> None:
        with Conveyor("memory://", clock=Clock(now)) as app:
            app.job("noop")(lambda: None)
            app.jobs["noop"]().run_now()

    refused(trigger, "aware")


@pytest.mark.parametrize("name", [5, b"x", "a\x00b", "a\ud800"], ids=repr)
def test_a_display_name_is_text(name: Any) -> None:
    with Conveyor("memory://") as app:
        refused(lambda: app.job("job", name=name)(lambda: None), "name")
        assert "job" not in app.jobs


@pytest.mark.parametrize("version", ["1.0", "01.0.0", 1, "", "1.0.0\n", "v1.0.0"], ids=repr)
def test_a_version_that_is_not_semver_is_refused(version: Any) -> None:
    with Conveyor("memory://") as app:
        refused(lambda: app.job("job", version=version)(lambda: None), "version", "1.2.0")


@pytest.mark.parametrize(("job_id", "named"), [
    (5, "str"), ("a\x00b", "NUL"), ("a\ud800", "surrogate"), ("x" * 1000, "bytes"),
], ids=repr)
def test_a_job_id_no_store_can_hold_is_refused_at_definition(job_id: Any, named: str) -> None:
    with Conveyor("memory://") as app:
        refused(lambda: app.job(job_id)(lambda: None), named)


@pytest.mark.parametrize(("first", "second"), [("héllo", "HELLO"), ("Hello World", "hello-world"),
                                               ("retry_request", "retry-request")])
def test_ids_sharing_a_slug_are_refused_naming_both(first: str, second: str) -> None:
    with Conveyor("memory://") as app:
        app.job(first)(lambda: None)
        refused(lambda: app.job(second)(lambda: None), first, second)


@pytest.mark.parametrize(("options", "named"), [
    ({"priority": "urgent"}, "critical"), ({"timeout": -1}, "timeout"),
    ({"retention": "7 dayz"}, "dayz"), ({"queue": ""}, "queue"), ({"colour": 1}, "colour"),
], ids=repr)
def test_bad_job_options_are_refused_at_definition(options: dict[str, Any], named: str) -> None:
    with Conveyor("memory://") as app:
        refused(lambda: app.job("job", **options)(lambda: None), named)


AMOUNTS = [(True, "accepted"), ("5", "accepted"), (None, "accepted"), (math.nan, "accepted"),
           (math.inf, "accepted"), (-1e-9, "accepted"), (10**30, "range"), (2**63, "range")]
BAD_UNITS = [None, 5, "fortnight", "", "quarter hour"]
BAD_WHEN = [("2031-01-01T00:00:00Z", "datetime"), (1_900_000_000, "datetime"),
            (date(2031, 1, 1), "datetime"), (None, "datetime"),
            (datetime(9999, 12, 31, 23, 59, 59, 999999, tzinfo=UTC), "range")]
BAD_TRIGGER_OPTIONS = [
    ({"priority": 2**31}, "2147483647"), ({"priority": -(2**31) - 1}, "-2147483648"),
    ({"priority": True}, "critical"), ({"priority": 1.5}, "critical"),
    ({"priority": "3"}, "critical"), ({"queue": ""}, "queue"), ({"queue": " "}, "queue"),
    ({"queue": "a\x00b"}, "NUL"), ({"queue": 5}, "queue"), ({"key": 5}, "key"),
    ({"key": "\ud800"}, "surrogate"), ({"owner": 1.5}, "owner"), ({"owner": True}, "owner"),
    ({"owner": "a\x00"}, "owner"), ({"timeout": math.nan}, "timeout"),
    ({"timeout": math.inf}, "timeout"), ({"timeout": True}, "timeout"),
    ({"retention": -1}, "retention"), ({"remove_delay": "1 aeon"}, "aeon"),
    ({"retry": "x"}, "Retry"), ({"replace": "yes"}, "replace"), ({"unique": 2}, "unique"),
    ({"colour": "red"}, "colour"),
]


def test_bad_triggers_store_nothing_and_say_what_was_wrong(app: Conveyor) -> None:
    """Sync and awaited alike, on every store."""
    @app.job
    def job() -> None: ...

    for n, named in AMOUNTS:
        refused(lambda n=n: job().run_in(n, "millisecond"), named)
        refused(lambda n=n: asyncio.run(_awaited(job().run_in, n, "second")), named)
    for unit in BAD_UNITS:
        refused(lambda unit=unit: job().run_in(1, unit), *UNITS)
    for when, named in BAD_WHEN:
        refused(lambda when=when: job().run_at(when), named)
        refused(lambda when=when: asyncio.run(_awaited(job().run_at, when)), named)
    for options, named in BAD_TRIGGER_OPTIONS:
        refused(lambda options=options: job().run_now(**options), named)
        refused(lambda options=options: job().run_in(1, "day", **options), named)
    assert app.count() == 0


async def _awaited(trigger: Any, *args: Any) -> Any:
    return await trigger(*args)


@pytest.mark.parametrize(("options", "named"), [
    ({"retries": -1}, ">= 0"), ({"retries": True}, "retries"), ({"retries": 1.5}, "retries"),
    ({"retries": 2**63}, "retries"), ({"wait": -1}, "accepted"), ({"wait": math.nan}, "accepted"),
    ({"wait": "forever"}, "accepted"), ({"wait": ""}, "accepted"), ({"wait": True}, "wait"),
    ({"backoff": "quadratic"}, "fixed, exponential, linear"), ({"max_wait": -1}, "max_wait"),
    ({"jitter": "yes"}, "jitter"), ({"jitter": 1}, "jitter"),
], ids=repr)
def test_a_bad_retry_says_what_is_accepted(options: dict[str, Any], named: str) -> None:
    refused(lambda: Retry(**options), named)


def test_waiting_with_a_bad_timeout_is_a_value_error(app: Conveyor) -> None:
    @app.job
    def job() -> None: ...

    handle = job().run_in(1, "hour")
    for timeout in [-1, math.nan, "5", True]:
        refused(lambda t=timeout: handle.result(timeout=t), "timeout", ">= 0")
        refused(lambda t=timeout: asyncio.run(handle.wait(timeout=t)), "timeout", ">= 0")
    for timeout in [0, -0.0, 1e-9]:
        with pytest.raises(TimeoutError):
            handle.result(timeout=timeout)
        with pytest.raises(TimeoutError):
            asyncio.run(handle.wait(timeout=timeout))
    assert record(app, handle).state == "scheduled"


UTC_ALIASES = ["UTC", "Etc/UTC", "UCT", "Etc/UCT", "Zulu", "Etc/Zulu", "Universal",
               "Etc/Universal", "GMT", "Etc/GMT", "GMT0", "Etc/GMT0", "GMT+0", "Etc/GMT+0",
               "GMT-0", "Etc/GMT-0", "Greenwich", "Etc/Greenwich"]


def test_an_app_in_any_name_of_utc_reads_a_naive_run_at_as_utc() -> None:
    naive = datetime(2040, 1, 1, 12)
    for name in [*UTC_ALIASES, *(ZoneInfo(n) for n in UTC_ALIASES)]:
        with Conveyor("memory://", timezone=name) as app:
            app.job("job")(lambda: None)
            rec = record(app, app.jobs["job"]().run_at(naive))
            assert rec.run_at == naive.replace(tzinfo=UTC), name
    for zone in ["Europe/London", "Africa/Abidjan", "Atlantic/Reykjavik"]:  # UTC offset, not UTC
        with Conveyor("memory://", timezone=zone) as app:
            app.job("job")(lambda: None)
            refused(lambda app=app: app.jobs["job"]().run_at(naive), "naive", zone)
