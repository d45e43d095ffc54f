"""SPEC §2 corners: ``include`` is all or nothing and refuses a cleanup policy no store
can hold; ``meta.progress`` says what it accepts; the registry answers like a mapping."""

from __future__ import annotations

import functools
import math
from typing import Any

from conveyor import Conveyor
from tests.acceptance.blind_core.support import record
from tests.acceptance.blind_e.support import refused
from tests.conformance.helpers import drain


def _noop(data: Any = None) -> Any:
    return data


BAD_POLICIES = [
    ({"type": 5, "purge_after_days": 1}, "5"), ({"type": None, "purge_after_days": 1}, "None"),
    ({"type": "a\x00b", "purge_after_days": 1}, "NUL"),
    ({"type": "\ud800", "purge_after_days": 1}, "surrogate"),
    ({"type": "x" * 600, "purge_after_days": 1}, "bytes"),
    ({"type": "t", "purge_after_days": -1}, ">= 0"),
    ({"type": "t", "purgeAfterDays": math.nan}, "nan"),
    ({"type": "t", "purge_after_days": "7"}, "'7'"),
    ({"type": "t", "purge_after_days": True}, "True"),
    ({"type": "t"}, "purge_after_days"), ({"purge_after_days": 1}, "type"),
]


def test_a_bad_cleanup_policy_refuses_the_whole_include(app: Conveyor) -> None:
    for policy, named in BAD_POLICIES:
        plugin = {"jobs": {"plugin-job": _noop}, "cleanup": [policy]}
        refused(lambda plugin=plugin: app.include(plugin), named)
        assert "plugin-job" not in app.jobs
    fixed = {"jobs": {"plugin-job": _noop}, "cleanup": [{"type": "t", "purgeAfterDays": 10**30}]}
    assert [d.id for d in app.include(fixed)] == ["plugin-job"]
    handle = app.jobs["plugin-job"]({"n": 1}).run_now()
    drain(app)
    assert handle.result(timeout=30) == {"n": 1}
    assert app.purge(expired=True) == 0


def test_a_bad_job_in_an_include_registers_none_of_its_jobs(app: Conveyor) -> None:
    refused(lambda: app.include({"jobs": {"first": _noop, "second": 5}}), "second", "function")
    refused(lambda: app.include({"jobs": {"one": _noop, "One": _noop}}), "one", "One")
    assert not {"first", "one", "One"} & set(app.jobs)
    app.include({"jobs": {"first": _noop, "one": _noop}})
    assert {"first", "one"} <= set(app.jobs)


BAD_PROGRESS = [math.nan, math.inf, -math.inf, True, "50%", None, -0.1, 100.5, 10**400, [0.5]]


def test_meta_progress_says_what_it_accepts(app: Conveyor) -> None:
    @app.job
    def report(i: int, meta: Any) -> str:
        try:
            meta.progress(BAD_PROGRESS[i])
        except ValueError as exc:
            return str(exc)
        return "taken"

    handles = [report(i).run_now() for i in range(len(BAD_PROGRESS))]
    drain(app)
    for value, handle in zip(BAD_PROGRESS, handles, strict=True):
        assert "fraction 0..1 or a percent 0..100" in handle.result(timeout=30), value


def test_good_progress_values_keep_the_run_going(app: Conveyor) -> None:
    @app.job
    def report(meta: Any) -> int:
        for value in (0, -0.0, 5e-324, 0.5, 1, 1.0, 100, 100.0):
            meta.progress(value, message="ü\x00\ud800" + "m" * 100_000)
        return meta.attempt

    handle = report().run_now()
    drain(app)
    assert handle.result(timeout=30) == 1
    assert record(app, handle).progress in (1, 100)  # all done, as a fraction or a percent


def test_the_registry_is_a_mapping_of_the_defined_jobs(app: Conveyor) -> None:
    @app.job("retry-request")
    def retry_request() -> None: ...

    assert app.jobs["retry-request"] is app.jobs.retry_request
    assert "retry-request" in app.jobs
    assert list(app.jobs) == ["retry-request"] and len(app.jobs) == 1
    refused(lambda: app.jobs["nope"], "nope", "retry-request", error=KeyError)
    refused(lambda: app.jobs.nope, "nope", error=AttributeError)


class Doubler:
    async def __call__(self, x: Any) -> Any:
        return x * 2


class Tripler:
    def __call__(self, x: Any) -> Any:
        return x * 3


async def _add(a: int, b: int) -> int:
    return a + b


def test_any_sync_or_async_callable_is_a_job(app: Conveyor) -> None:
    app.job("doubler")(Doubler())
    app.job("tripler")(Tripler())
    app.job("adder")(functools.partial(_add, 1))
    got: list[Any] = []

    class Worker:
        async def __call__(self, job: Any) -> None:
            got.append(job.data)
            job.done("ok")

    app.add_worker(type="object-worker", worker=Worker())
    handles = [app.jobs[name](5).run_now() for name in ("doubler", "tripler", "adder")]
    reaction = app.schedule_job(type="object-worker", data={"n": 1})
    drain(app)
    assert [h.result(timeout=30) for h in handles] == [10, 15, 6]
    assert reaction.result(timeout=30) == "ok" and got == [{"n": 1}]
