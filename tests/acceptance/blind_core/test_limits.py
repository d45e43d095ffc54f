"""Blind acceptance tests of SPEC §8 (limits and hostile input); every store."""

from __future__ import annotations

import math
import threading
from collections.abc import Callable
from typing import Any

import pytest

from conveyor import (
    Conveyor,
    PayloadError,
)
from tests.acceptance.blind_core.support import (
    field,
    record,
)
from tests.conformance.helpers import drain


def test_nul_and_lone_surrogates_are_refused_naming_the_path(app: Conveyor) -> None:
    @app.job
    def job(x: Any) -> None: ...

    for payload, path in [({"a": [0, 1, 2, "nul\x00"]}, 'payload["a"][3]'),
                          ({"a": {"b": "\ud800"}}, 'payload["a"]["b"]'),
                          ({"ok": 1, "k\x00": 1}, "payload"),
                          (["\udfff"], "payload[0]")]:
        with pytest.raises(PayloadError) as caught:
            job(payload).run_now()
        assert path in str(caught.value)
    assert app.count() == 0


def test_depth_limit_is_exact(make: Callable[..., Conveyor]) -> None:
    app = make(max_depth=3)

    @app.job
    def job(x: Any) -> None: ...

    job({"a": {"b": [1]}}).run_now()
    with pytest.raises(PayloadError):
        job({"a": {"b": [[1]]}}).run_now()
    assert app.count() == 1


def test_default_depth_is_64(app: Conveyor) -> None:
    @app.job
    def job(x: Any) -> None: ...

    def nest(levels: int) -> Any:
        value: Any = "leaf"
        for _ in range(levels):
            value = [value]
        return value

    job(nest(64)).run_now()
    with pytest.raises(PayloadError):
        job(nest(65)).run_now()
    with pytest.raises(PayloadError):
        job(nest(10_000)).run_now()
    assert app.count() == 1


def test_payload_size_limit(make: Callable[..., Conveyor]) -> None:
    app = make(max_payload=2_000)

    @app.job
    def job(x: Any) -> None: ...

    @app.job
    def pair(a: str, b: str) -> None: ...

    job("é" * 500).run_now()
    with pytest.raises(PayloadError):
        job("x" * 5_000).run_now()
    with pytest.raises(PayloadError):
        pair(a="y" * 1_500, b="z" * 1_500).run_now()
    assert app.count() == 1


@pytest.mark.parametrize("result", ["nul\x00", {"x": ["\ud83d"]}, math.nan, {1, 2}], ids=repr)
def test_a_result_json_cannot_hold_fails_the_attempt(app: Conveyor, result: Any) -> None:
    @app.job
    def job() -> Any:
        return result

    handle = job().run_now()
    drain(app)
    rec = record(app, handle)
    assert rec.state == "failed"
    assert "PayloadError" in str(field(rec.error, "type"))


def test_hostile_text_is_sanitised_and_stored(app: Conveyor) -> None:
    @app.job
    def job(meta: Any) -> None:
        meta.log.info("log\x00line\ud800")
        meta.progress(0.5, message="prog\x00ress\udc00")
        raise RuntimeError("err\x00or\ud800" + "!" * 2_000_000)

    handle = job().run_now()
    drain(app)
    rec = record(app, handle)
    assert rec.state == "failed"
    message = str(field(rec.error, "message"))
    assert "\x00" not in message and "\ud800" not in message
    assert message.startswith("err\ufffdor\ufffd")
    assert len(message) < 2_000_000
    logs = " ".join(str(getattr(line, "message", line)) for line in rec.logs)
    assert "log\ufffdline\ufffd" in logs
    assert rec.progress_message == "prog\ufffdress\ufffd"


def test_hostile_event_names_and_unmatchable_numbers_never_fail(app: Conveyor) -> None:
    got: list[Any] = []

    @app.job("ev", trigger=app.event("n", filter={"v": [1, 2.5]}))
    async def ev(payload: Any, io: Any) -> None:
        got.append(payload["v"])

    sent = app.send_event("bad\x00name\ud800", {"v": 1})
    assert sent.name == "bad\ufffdname\ufffd"
    for v in [10**400, -(10**400), 1e308, "1", True, {"v": 1}, None, 2.5]:
        app.send_event("n", {"v": v})
    drain(app)
    assert got == [2.5]


def test_many_jobs_all_complete(app: Conveyor) -> None:
    lock = threading.Lock()
    seen: set[int] = set()

    @app.job
    def job(n: int) -> int:
        with lock:
            seen.add(n)
        return n * n

    handles = [job(n).run_now() for n in range(300)]
    drain(app)
    assert seen == set(range(300))
    assert app.count(state="completed") == 300
    assert handles[-1].result(timeout=30) == 299 * 299
