"""SPEC §8: one rule for payloads and results on every store (refused at trigger time,
naming the path; a bad result fails its attempt), and text stored for the user is
sanitised instead of refused."""

from __future__ import annotations

from typing import Any

import pytest

from conveyor import Conveyor, PayloadError, Retry, chain, group
from conveyor.testing import run_until_idle
from tests.acceptance.support import record_of

REPLACEMENT = "\ufffd"


def _sink(app: Conveyor) -> Any:
    @app.job(retry=Retry(retries=0))
    def sink(payload=None, **kwargs):
        return "ok"

    return sink


@pytest.mark.parametrize(("bad", "where"), [
    ({"a": [0, 1, 2, {1, 2}]}, '["a"][3]'),
    ({"a": {(1, 2): "tuple key"}}, '["a"]'),
    ({"a": [object()]}, '["a"][0]'),
    ({"a": {"b": b"bytes"}}, '["a"]["b"]'),
    ({"a": "\udc80"}, '["a"]'),
    ({"a\x00": 1}, ""),
])
def test_refusals_name_the_path_and_store_nothing(app: Conveyor, bad: Any, where: str) -> None:
    sink = _sink(app)
    with pytest.raises(PayloadError) as refused:
        sink(bad).run_now()
    assert where in str(refused.value)
    assert app.count() == 0


def test_keyword_payloads_and_every_way_to_trigger_follow_the_rule(app: Conveyor) -> None:
    sink = _sink(app)
    with pytest.raises(PayloadError, match="data"):
        sink(payload=None, data={"x": [float("nan")]}).run_now()
    with pytest.raises(PayloadError):
        app.schedule_job(type="sink", data={"x": float("inf")})
    with pytest.raises(PayloadError):
        app.send_event("thing.happened", {"x": {1, 2}})
    assert app.count() == 0


def test_a_huge_key_is_refused_by_size(open_app: Any) -> None:
    app = open_app(max_payload=10_000)
    sink = _sink(app)
    with pytest.raises(PayloadError):
        sink({"k" * 20_000: 1}).run_now()
    assert app.count() == 0


def test_a_workflow_with_one_bad_member_is_refused(app: Conveyor) -> None:
    sink = _sink(app)
    for flow in (chain(sink(1), sink(bad={1})), group(sink(1), sink(float("nan")))):
        with pytest.raises(PayloadError):
            flow.run_now()
    with pytest.raises(PayloadError):
        sink({"bad": b"x"}).run_now(depends_on=[sink(2).run_in(1, "hour")])


@pytest.mark.parametrize("result", [
    {1, 2}, float("nan"), {"k": b"raw"}, "nul\x00inside", {"t": (1, object())},
])
def test_a_result_json_cannot_hold_fails_the_attempt_with_a_payload_error(
        app: Conveyor, result: Any) -> None:
    @app.job(retry=Retry(retries=1))
    def bad_result():
        return result

    handle = bad_result().run_now()
    run_until_idle(app)
    record = record_of(app, handle.id)
    # Not retried: running it again would break the rule the same way (docs/limits.md).
    assert record.state == "failed" and record.attempts == 1
    assert "PayloadError" in str(record.error)


def test_results_past_the_apps_limits_fail_the_attempt(open_app: Any) -> None:
    app = open_app(max_payload=2_000, max_depth=3)

    @app.job(retry=Retry(retries=0))
    def big():
        return "x" * 5_000

    @app.job(retry=Retry(retries=0))
    def deep():
        return [[[[1]]]]

    @app.job(retry=Retry(retries=0))
    def fine():
        return [[[1]]]

    handles = [big().run_now(), deep().run_now(), fine().run_now()]
    run_until_idle(app)
    big_run, deep_run, fine_run = (record_of(app, h.id) for h in handles)
    assert big_run.state == deep_run.state == "failed"
    assert "PayloadError" in str(big_run.error) and "PayloadError" in str(deep_run.error)
    assert fine_run.state == "completed" and fine_run.result == [[[1]]]


def test_logs_progress_and_errors_are_sanitised_and_stored(app: Conveyor) -> None:
    @app.job(retry=Retry(retries=0))
    def noisy(meta):
        meta.log.info("log\x00with\udcffbad")
        meta.progress(0.5, message="half\x00way\ud800")
        raise RuntimeError("err\x00or\udc00")

    handle = noisy().run_now()
    run_until_idle(app)
    record = record_of(app, handle.id)
    assert record.state == "failed"
    texts = [str(getattr(entry, "message", entry)) for entry in record.logs]
    texts += [str(value) for value in dict(record.error or {}).values()]
    texts.append(str(record.progress_message))
    for text in texts:
        assert "\x00" not in text and not any(0xD800 <= ord(c) <= 0xDFFF for c in text), text
    assert f"log{REPLACEMENT}with{REPLACEMENT}bad" in texts[0]
    assert f"err{REPLACEMENT}or{REPLACEMENT}" in str(record.error)
    assert "half" in str(record.progress_message)


def test_over_long_text_is_truncated_with_a_marker_and_stored(app: Conveyor) -> None:
    huge = "y" * (3 * 1024 * 1024)

    @app.job(retry=Retry(retries=0))
    def chatty(meta):
        meta.log.info(huge)
        raise RuntimeError(huge)

    handle = chatty().run_now()
    run_until_idle(app)
    record = record_of(app, handle.id)
    assert record.state == "failed"
    message = dict(record.error or {})["message"]
    logged = record.logs[0].message
    for text in (message, logged):  # cut short, and marked as cut
        assert text.startswith("yyyy") and len(text) < len(huge) and set(text) != {"y"}


def test_hostile_event_names_are_stored_and_odd_numbers_just_do_not_match(
        app: Conveyor) -> None:
    @app.job(trigger=app.event("metric.seen", filter={"n": [1]}))
    def on_metric(payload):
        return payload["n"]

    app.send_event("weird\x00name\udc99", {"n": 1})
    app.send_event("x" * 100_000, {"n": 1})
    for odd in (10**400, -(10**400), 1e308, 2**64, True):
        app.send_event("metric.seen", {"n": odd})
    app.send_event("metric.seen", {"n": 1})
    run_until_idle(app)
    assert [r.result for r in app.jobs_list(job="on_metric")] == [1]
