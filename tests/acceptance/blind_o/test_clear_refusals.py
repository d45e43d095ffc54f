"""§2/§3/§5/§6 refusals a user meets while writing code: each is of the built-in family
one would catch, names what was wrong and shows what is accepted; nothing is stored."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

import pytest

from conveyor import Conveyor, Retry


def _known(app: Conveyor) -> None:
    @app.job("known-job")
    def known(data=None):  # type: ignore[no-untyped-def]
        return data


CASES: list[tuple[str, Callable[[Conveyor], object], type[BaseException], list[str]]] = [
    (
        "unknown type",
        lambda a: a.schedule_job(type="nope", data={}),
        KeyError,
        ["nope", "known-job"],
    ),
    ("unknown by key", lambda a: a.jobs["nope"], KeyError, ["nope", "known-job"]),
    ("unknown by attr", lambda a: a.jobs.nope, AttributeError, ["nope"]),
    ("cron field", lambda a: a.cron("61 * * * *"), ValueError, ["61", "0 3 * * *"]),
    ("english to cron", lambda a: a.cron("every day"), ValueError, ["every day", "app.schedule"]),
    ("every zero", lambda a: a.every(0), ValueError, ["0", "15 minutes"]),
    ("every fraction", lambda a: a.every(1.5), ValueError, ["1.5"]),
    (
        "cron job english",
        lambda a: a.schedule_cron_job("known-job", "every day"),
        ValueError,
        ["every day"],
    ),
    (
        "schedule text",
        lambda a: a.schedule_job(type="known-job", data={}, schedule="every blue moon"),
        ValueError,
        ["blue", "every 15 minutes"],
    ),
    ("filter shape", lambda a: a.event("x", filter={"plan": "pro"}), ValueError, ["plan", "list"]),
    (
        "trigger kind",
        lambda a: a.job("t", trigger="0 3 * * *")(lambda: 1),
        ValueError,
        ["app.cron"],
    ),
    (
        "trigger option",
        lambda a: a.jobs["known-job"]().run_now(priorty="high"),
        TypeError,
        ["priorty", "priority", "queue", "retention"],
    ),
    ("blank queue", lambda a: a.jobs["known-job"]().run_now(queue=" "), ValueError, ["queue"]),
    (
        "negative timeout",
        lambda a: a.jobs["known-job"]().run_now(timeout=-1),
        ValueError,
        ["timeout", "-1"],
    ),
    (
        "retention text",
        lambda a: a.jobs["known-job"]().run_now(retention="forever"),
        ValueError,
        ["forever", "7 days"],
    ),
    ("arguments", lambda a: a.jobs["known-job"](1, 2).run_now(), TypeError, ["known-job"]),
    ("injected by hand", lambda a: a.job("m")(lambda meta: 1)(meta=1), ValueError, ["meta"]),
]


@pytest.mark.parametrize(("case", "call", "family", "words"), CASES, ids=[c[0] for c in CASES])
def test_refusals_say_what_was_wrong_and_what_is_accepted(
    sqlite_app: Conveyor,
    case: str,
    call: Callable[[Conveyor], object],
    family: type[BaseException],
    words: list[str],
) -> None:
    _known(sqlite_app)
    with pytest.raises(family) as caught:
        call(sqlite_app)
    message = str(caught.value)
    for word in words:
        assert word in message, (case, message)
    assert sqlite_app.count() == 0


@pytest.mark.parametrize(
    "wait", [timedelta(seconds=-1), "soon", float("inf")], ids=["negative", "text", "infinite"]
)
def test_a_bad_retry_wait_is_refused_naming_it(wait: object) -> None:
    with pytest.raises(ValueError) as caught:
        Retry(retries=2, wait=wait)  # type: ignore[arg-type]
    assert "wait" in str(caught.value)
