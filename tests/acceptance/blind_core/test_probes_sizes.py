"""Blind probes across SPEC §1-5 and §8: results, log lines, keys, options, retry delays,
progress, event payloads and step results at and past their limits are stored, cut or
refused clearly and never break a worker; every store."""

from __future__ import annotations

import contextlib
import math
from collections.abc import Callable
from typing import Any

import pytest

from conveyor import Conveyor, PayloadError, Retry, RetryIn
from tests.acceptance.blind_core.support import field, ok_or_value_error, record
from tests.conformance.helpers import drain


def test_a_result_too_big_or_too_deep_fails_the_attempt(make: Callable[..., Conveyor]) -> None:
    app = make(max_payload=1_000, max_depth=4)

    @app.job
    def big() -> str:
        return "x" * 2_000

    @app.job
    def deep() -> Any:
        return [[[[["five"]]]]]

    handles = [big().run_now(), deep().run_now()]
    drain(app)
    for handle in handles:
        assert "PayloadError" in str(field(record(app, handle).error, "type"))



def test_over_long_log_lines_are_truncated_with_a_marker(app: Conveyor) -> None:
    @app.job
    def job(meta: Any) -> None:
        meta.log.info("L" * 3_000_000)
        meta.progress(0.1, message="M" * 3_000_000)

    handle = job().run_now()
    drain(app)
    rec = record(app, handle)
    assert rec.state == "completed"
    line = next(str(getattr(x, "message", x)) for x in rec.logs if "LLL" in str(
        getattr(x, "message", x)))
    assert 100 < len(line) < 3_000_000
    assert rec.progress_message is not None
    assert 100 < len(rec.progress_message) < 3_000_000
    assert rec.progress_message.startswith("MMM")
    name = app.send_event("n" * 1_000_000, {}).name
    assert name.startswith("nnn") and len(name) < 1_000_000



def test_long_keys_queues_owners_and_ids(app: Conveyor) -> None:
    with pytest.raises(ValueError):  # an id is indexed: a clear limit, at definition
        @app.job("j" + "é" * 3_000)
        def too_long() -> None: ...

    long_id = "j" + "é" * 200

    @app.job(long_id)
    def job(x: Any) -> str:
        return "ok"

    for option in ("key", "queue", "owner"):
        with pytest.raises(ValueError):
            job(0).run_now(**{option: "x" * 5_000})  # type: ignore[arg-type]
    assert app.count() == 0
    key, queue, owner = "k" * 300 + "ü", "q" * 200 + "🚚", "o" * 250 + "é"
    first = job(1).run_now(key=key, queue=queue, owner=owner, unique=True)
    again = job(2).run_now(key=key, queue=queue, owner=owner, unique=True)
    assert again.id == first.id
    rec = record(app, first)
    assert (rec.job, rec.key, rec.queue, rec.owner) == (long_id, key, queue, owner)
    drain(app, queues=[queue])
    assert first.result(timeout=30) == "ok"



def test_huge_option_values_are_stored_or_refused_clearly(app: Conveyor) -> None:
    @app.job
    def job() -> str:
        return "ran"

    options: list[dict[str, Any]] = [
        {"priority": 10**20}, {"priority": -(2**63)}, {"owner": 2**70}, {"owner": -1},
        {"timeout": 1e300}, {"retention": 1e300}, {"remove_delay": 1e300},
        {"retry": {"retries": 2**40}}]
    handles = [ok_or_value_error(lambda o=o: job().run_now(**o))  # type: ignore[misc]
               for o in options]
    stored = [h for h in handles if h is not None]
    assert app.count() == len(stored)
    drain(app)
    assert [h.result(timeout=30) for h in stored] == ["ran"] * len(stored)



def test_invalid_option_values_are_value_errors(app: Conveyor) -> None:
    @app.job
    def job() -> None: ...

    for option in [{"timeout": -1}, {"timeout": math.nan}, {"retention": -5},
                   {"remove_delay": "-1 day"}, {"priority": math.inf}]:
        with pytest.raises(ValueError):
            job().run_now(**option)  # type: ignore[arg-type]
    assert app.count() == 0



def test_absurd_retry_delays_never_break_the_worker(capp: Conveyor) -> None:
    @capp.job
    def fails() -> None:
        raise RuntimeError("fails")

    delays = {"negative": -5, "nan": math.nan, "inf": math.inf, "huge": 1e300}

    @capp.job
    def moves(delay: str) -> None:
        raise RetryIn(delays[delay])

    @capp.job
    def fine() -> str:
        return "fine"

    handles = [ok_or_value_error(lambda w=w: fails().run_now(  # type: ignore[misc]
        retry=Retry(retries=3, wait=w, backoff="exponential"))) for w in (1e15, 1e300)]
    handles += [moves(name).run_now() for name in delays]
    other = fine().run_now()
    drain(capp)
    assert other.result(timeout=30) == "fine"
    for handle in handles:
        if handle is not None:
            assert record(capp, handle).state in ("scheduled", "failed")



def test_progress_that_json_cannot_hold_never_breaks_the_run(app: Conveyor) -> None:
    @app.job
    def job(meta: Any) -> str:
        for value in (math.nan, math.inf, -1, 1e300):
            with contextlib.suppress(ValueError):
                meta.progress(value)
        return "done"

    handle = job().run_now()
    drain(app)
    assert handle.result(timeout=30) == "done"
    progress = record(app, handle).progress
    assert progress is None or (isinstance(progress, (int, float, dict)) and progress == progress)



def test_send_event_refuses_a_payload_json_cannot_hold(app: Conveyor) -> None:
    with pytest.raises(PayloadError):
        app.send_event("evt", {"x": {1, 2}})
    with pytest.raises(PayloadError):
        app.send_event("evt", {"x": "nul\x00"})



def test_a_task_result_json_cannot_hold_fails_the_run(app: Conveyor) -> None:
    @app.job
    async def flow(payload: Any, io: Any) -> Any:
        return await io.task("bad", lambda: {1, 2})

    handle = flow({}).run_now()
    drain(app)
    assert record(app, handle).state == "failed"
