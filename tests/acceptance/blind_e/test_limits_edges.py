"""SPEC §8 corners: a payload JSON cannot hold is refused naming the path to the value,
however the job was called; a result likewise fails the attempt; text conveyor stores for
the user (error messages, progress messages) is sanitised and truncated, never refused."""

from __future__ import annotations

import math
from collections.abc import Callable
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from conveyor import Conveyor, PayloadError
from tests.acceptance.blind_core.support import field, record
from tests.acceptance.blind_e.support import refused
from tests.conformance.helpers import drain

CALLS: list[tuple[tuple[Any, ...], dict[str, Any], str]] = [
    ((math.nan,), {}, "nan"),
    ((1, {"a": [0, 1, 2, math.inf]}), {}, '["a"][3]'),
    ((), {"b": {'q"uote': "\x00"}}, '["b"]'),
    ((), {"b": ("x", b"bytes")}, '["b"][1]'),
    (({"é": {1: 2}},), {}, "key 1"),
    (({1},), {}, "set"),
    ((), {"k": datetime(2020, 1, 1)}, '["k"]'),
    (([10**5000],), {}, "[0]"),
    ((), {"a\x00": 1}, "NUL"),
    (({"ok": "\udfff"},), {}, '["ok"]'),
]


def test_a_payload_json_cannot_hold_is_refused_naming_the_path(app: Conveyor) -> None:
    @app.job
    def job(*args: Any, **kwargs: Any) -> None: ...

    for args, kwargs, path in CALLS:
        refused(lambda a=args, k=kwargs: job(*a, **k).run_now(), path, error=PayloadError)
        refused(lambda a=args, k=kwargs: job(*a, **k).run_in(1, "day"), path,
                error=PayloadError)
        if len(args) == 1:  # the Reaction-style call's data is that single argument
            refused(lambda a=args: app.schedule_job(type="job", data=a[0]), path,
                    error=PayloadError)
    assert app.count() == 0


def test_max_payload_counts_utf8_bytes(make: Callable[..., Conveyor]) -> None:
    app = make(max_payload=128)

    @app.job
    def job(text: str) -> None: ...

    job("é" * 30).run_now()  # 60 bytes in UTF-8 (180 as \\u escapes)
    refused(lambda: job("é" * 70).run_now(), "max_payload", "128", error=PayloadError)
    assert app.count() == 1


RESULTS = [({"k": math.nan}, 'result["k"]'), ([b"x"], "result[0]"), (10**5000, "result"),
           ({"\x00": 1}, "NUL"), ({1: "a"}, "key 1"), ({"a": "\ud800"}, 'result["a"]')]


def test_a_result_json_cannot_hold_fails_the_attempt_naming_the_path(app: Conveyor) -> None:
    @app.job(retry=1)
    def job(i: int, meta: Any) -> Any:
        return RESULTS[i][0] if meta.attempt == 1 else "fine"

    handles = [job(i).run_now() for i in range(len(RESULTS))]
    drain(app)
    for (_, path), handle in zip(RESULTS, handles, strict=True):
        rec = record(app, handle)  # retried or not: SPEC leaves it open
        assert (rec.state, rec.attempts, rec.result) in {("completed", 2, "fine"),
                                                         ("failed", 1, None)}
        error = field(rec.history[0], "error")
        assert field(error, "type") == "PayloadError" and path in field(error, "message")


def test_hostile_error_text_is_sanitised_and_truncated(app: Conveyor) -> None:
    @app.job
    def job() -> None:
        raise ValueError("x\x00\ud800" * 20_000)

    handle = job().run_now()
    drain(app)
    rec = record(app, handle)
    message, trace = str(field(rec.error, "message")), str(field(rec.error, "traceback"))
    assert rec.state == "failed" and not {"\x00", "\ud800"} & set(message + trace)
    assert message.startswith("x\ufffd\ufffdx") and len(message) < 60_000
    assert not message.endswith(("x", "\ufffd"))  # a marker ends the cut text


def test_aware_times_in_a_dst_fold_are_two_instants(app: Conveyor) -> None:
    @app.job
    def job() -> None: ...

    paris = ZoneInfo("Europe/Paris")
    first, second = (record(app, job().run_at(datetime(2031, 10, 26, 2, 30, fold=fold,
                                                                 tzinfo=paris)))
                     for fold in (0, 1))
    assert first.run_at is not None and second.run_at is not None
    assert (second.run_at - first.run_at).total_seconds() == 3600
    assert first.run_at.isoformat() == "2031-10-26T00:30:00+00:00"


def _nested(levels: int, leaf: Any, *, in_lists: bool = False) -> Any:
    for _ in range(levels):
        leaf = [leaf] if in_lists else {"a": leaf}
    return leaf


def test_a_subset_as_deep_as_payloads_may_be_is_matched(make: Callable[..., Conveyor]) -> None:
    app = make(max_depth=500)

    @app.job
    def deep(payload: Any) -> None: ...

    objects, lists = (deep(_nested(498, 1, in_lists=flag)).run_now() for flag in (False, True))
    assert [r.id for r in app.jobs_list(data={"a": _nested(497, 1)})] == [objects.id]
    assert [r.id for r in app.jobs_list(data=[_nested(497, 1, in_lists=True)])] == [lists.id]
    assert app.count(data=_nested(499, 1)) == 0
    assert app.cancel_jobs(data={"a": _nested(497, 1)}) == 1
