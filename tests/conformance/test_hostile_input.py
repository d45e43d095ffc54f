"""Strict edges (every store): payload limits at trigger time, results that break them
fail their attempt, text stored on the user's behalf is sanitised, identifiers are
checked where they enter, and numbers a filter cannot compare never fail a pass."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest

from conveyor import ConfigurationError, Conveyor, PayloadError
from tests.conformance.helpers import NewApp, drain


def define_echo(app: Conveyor) -> Any:
    """Job ``echo``: returns its payload (``a=`` is there to pass a keyword)."""

    @app.job
    def echo(payload: Any = None, a: Any = None) -> Any:
        return payload

    return echo


@pytest.fixture
def echo(app: Conveyor) -> Any:
    return define_echo(app)


@pytest.mark.parametrize(("bad", "why"), [("x\x00y", "NUL character"),
                                          ("name-\udcff.txt", "lone surrogate")])
def test_text_with_nul_or_a_lone_surrogate_is_refused_naming_its_path(
    app: Conveyor, echo: Any, bad: str, why: str
) -> None:
    with pytest.raises(PayloadError) as info:
        echo({"a": [0, 1, 2, bad]}).run_now()
    assert str(info.value).startswith('payload["a"][3] contains')
    assert why in str(info.value)
    with pytest.raises(PayloadError, match=r'payload key "k\\u0000"'):
        echo({"k\x00": 1}).run_now()
    assert app.count() == 0


def test_a_literal_backslash_u0000_is_ordinary_text(app: Conveyor, echo: Any) -> None:
    payload = {"s": "a literal \\u0000", "emoji": "😀"}
    h = echo(payload).run_now()
    drain(app)
    assert h.result() == payload


def test_nesting_past_max_depth_is_refused_at_trigger_time(new_app: NewApp) -> None:
    app = new_app(max_depth=3)
    echo = define_echo(app)
    assert echo([[["deep enough"]]]).run_now().id
    with pytest.raises(PayloadError, match=r"^payload\[0\]\[0\]\[0\] is nested deeper "
                                           r"than max_depth=3"):
        echo([[[["too deep"]]]]).run_now()
    with pytest.raises(PayloadError, match=r'^payload\["a"\]\["b"\]\["c"\] is nested deeper'):
        echo(a={"b": {"c": [1]}}).run_now()
    drain(app)
    assert app.count(state="completed") == 1


def test_deep_payloads_are_refused_by_default_without_breaking_anything(
    app: Conveyor, echo: Any
) -> None:
    deep: list[Any] = []
    inner = deep
    for _ in range(100_000):
        inner.append([])
        inner = inner[0]
    with pytest.raises(PayloadError, match="nested"):
        echo(deep).run_now()
    ok: Any = "leaf"
    for _ in range(64):
        ok = [ok]
    h = echo(ok).run_now()
    drain(app)
    assert h.result() == ok


def test_payloads_past_max_payload_bytes_are_refused(new_app: NewApp) -> None:
    app = new_app(max_payload=1000)
    echo = define_echo(app)
    echo("é" * 400).run_now()  # 802 bytes of JSON
    with pytest.raises(PayloadError, match=r"^payload is 1002 bytes as JSON, more than "
                                           r"max_payload=1000 bytes"):
        echo("é" * 500).run_now()
    with pytest.raises(PayloadError, match="max_payload"):
        app.send_event("big", "x" * 2000)
    assert app.count() == 1


def test_limits_are_checked_options() -> None:
    for bad in ({"max_depth": 0}, {"max_depth": 10_000}, {"max_payload": -1},
                {"max_payload": True}):
        with pytest.raises(ConfigurationError, match=f"invalid {next(iter(bad))}"):
            Conveyor("memory://", **bad)


@pytest.mark.parametrize("result", ["bad-\udcff", {"n": "\x00"}, [[[[1]]]]])
def test_a_result_breaking_the_rules_fails_its_attempt_and_the_worker_goes_on(
    new_app: NewApp, result: Any
) -> None:
    app = new_app(max_depth=3, lease=2)

    @app.job(retry=2)
    def odd() -> Any:
        return result

    @app.job
    def fine(n: int) -> int:
        return n

    bad = odd().run_now()
    good = [fine(n).run_now() for n in range(5)]
    drain(app)
    record = app.get_job(bad.id)
    assert record is not None and record.state == "failed" and record.attempts == 1
    assert record.error is not None and record.error["type"].endswith("PayloadError")
    assert record.error["message"].startswith("result")
    assert [h.result() for h in good] == list(range(5))


def test_error_messages_tracebacks_logs_and_progress_are_sanitised(app: Conveyor) -> None:
    @app.job
    def noisy(meta: Any = None) -> None:
        meta.log.info("log \x00 \udcff \ud83d\ude00")
        meta.log.info("long " + "y" * 100_000)
        meta.progress(0.5, "half \x00 \udcff")
        raise ValueError("broken \x00 \udcff " + "z" * 100_000)

    h = noisy().run_now()
    drain(app)
    record = app.get_job(h.id)
    assert record is not None and record.state == "failed"
    assert record.error is not None
    message = record.error["message"]
    assert message.startswith("broken \ufffd \ufffd zzz") and "characters cut]" in message
    assert len(message) < 20_000 and "\x00" not in record.error["traceback"]
    lines = [entry.message for entry in record.logs]
    assert "log \ufffd \ufffd 😀" in lines
    assert any(line.startswith("long yyy") and "characters cut]" in line for line in lines)
    assert record.progress_message == "half \ufffd \ufffd"


@pytest.mark.parametrize("option", ["key", "owner", "queue"])
@pytest.mark.parametrize("value", ["a\x00b", "a\udcffb", "k" * 1025, "é" * 600])
def test_identifiers_are_checked_where_they_enter(
    app: Conveyor, echo: Any, option: str, value: str
) -> None:
    with pytest.raises(ConfigurationError, match=f"invalid {option}"):
        echo().run_now(**{option: value})
    assert app.count() == 0


@pytest.mark.parametrize("owner", [10**1024, -(10**5000)], ids=["1025 digits", "5000 digits"])
def test_an_int_owner_too_long_to_store_is_one_clear_error(
    app: Conveyor, echo: Any, owner: int
) -> None:
    with pytest.raises(ConfigurationError, match="invalid owner"):
        echo().run_now(owner=owner)
    assert app.count() == 0


def test_a_long_key_within_the_limit_is_stored(app: Conveyor, echo: Any) -> None:
    key = "k" * 1024
    h = echo().run_now(key=key, owner="o" * 1024, queue="q" * 1024)
    record = app.get_job(h.id)
    assert record is not None and record.key == key


@pytest.mark.parametrize(("filters", "word"), [
    ({"text": "a\x00b"}, "text"), ({"text": "a\udcffb"}, "text"), ({"key": "a\udcffb"}, "key"),
    ({"key": 5}, "key"), ({"job": "a\udcffb"}, "job"), ({"job": 5}, "job"),
    ({"job": ["echo", None]}, "job"), ({"queue": ["a\x00"]}, "queue"), ({"ids": ["1"]}, "job id"),
    ({"since": datetime.min.replace(tzinfo=timezone(timedelta(hours=5)))}, "since"),
    ({"until": datetime.max.replace(tzinfo=timezone(timedelta(hours=-5)))}, "until"),
])
def test_query_filters_no_store_can_hold_are_one_clear_error(
    app: Conveyor, echo: Any, filters: dict[str, Any], word: str
) -> None:
    echo("x").run_now()
    for query in (app.jobs_list, app.count):
        with pytest.raises(ConfigurationError, match=f"invalid {word}"):
            query(**filters)


def test_ids_limits_and_offsets_past_64_bits_match_nothing_more(app: Conveyor, echo: Any) -> None:
    handle = echo("x").run_now()
    assert app.jobs_list(ids=[2**63, 10**30, -(2**70)]) == []
    assert [r.id for r in app.jobs_list(ids=[handle.id, 10**30])] == [handle.id]
    assert app.count(ids=[10**30]) == 0
    assert [r.id for r in app.jobs_list(limit=10**30)] == [handle.id]
    assert app.jobs_list(offset=10**30) == []


@pytest.mark.parametrize("event_id", ["a\x00b", "a\udcffb", "i" * 1025])
def test_event_ids_are_checked(app: Conveyor, event_id: str) -> None:
    with pytest.raises(ConfigurationError, match="invalid event id"):
        app.send_event("x", {}, id=event_id)


def test_event_names_are_sanitised_and_still_match_their_trigger(app: Conveyor) -> None:
    seen: list[Any] = []

    @app.job(trigger=app.event("odd\x00name\udcff"))
    def on_odd(payload: Any) -> None:
        seen.append(payload)

    event = app.send_event("odd\x00name\udcff", {"n": 1})
    assert event.name == "odd\ufffdname\ufffd"
    long = app.send_event("n" * 5000, {})
    assert len(long.name.encode()) <= 1024 and long.name.endswith("…[4016 bytes cut]")
    wide = app.send_event("é" * 600, {})  # 1,200 bytes: cut by bytes, counted in bytes
    assert wide.name == "é" * 492 + "…[216 bytes cut]"
    drain(app)
    assert seen == [{"n": 1}]


@pytest.mark.parametrize("number", [10**400, -(10**400), 1e308, 2**63, -(2**64)])
def test_numbers_a_filter_cannot_compare_never_stop_delivery(app: Conveyor, number: Any) -> None:
    started: list[Any] = []

    @app.job(trigger=app.event("reading", filter={"v": [{"numeric": [">", 0, "<", 100]}]}))
    def in_range(payload: Any) -> None:
        started.append(payload["v"])

    @app.job(trigger=app.event("reading", filter={"v": [{"anything-but": [1]}]}))
    def not_one(payload: Any) -> None:
        started.append(("other", payload["v"] == number))

    later = datetime.now(UTC) + timedelta(milliseconds=200)
    app.send_event("reading", {"v": number})
    app.send_event("reading", {"v": number}, deliver_at=later)
    app.send_event("reading", {"v": 5}, deliver_at=later)
    time.sleep(0.3)
    drain(app)
    assert sorted(map(str, started)) == sorted(map(str, [5, ("other", True), ("other", True),
                                                         ("other", False)]))
    assert all(e.delivered_at is not None for e in app.events_list())


def test_durable_log_lines_with_odd_text_and_fields_are_stored(app: Conveyor) -> None:
    @app.job
    async def chatty(payload: Any, io: Any) -> str:
        await io.logger.info("file \udcff\x00", path="bad-\udcff", when=datetime(2030, 1, 1))
        return "done"

    h = chatty(None).run_now()
    drain(app)
    record = app.get_job(h.id)
    assert record is not None and record.state == "completed"
    (line,) = [entry.message for entry in record.logs]
    assert line.startswith("file \ufffd\ufffd") and "datetime.datetime(2030" in line
    (step,) = app.steps(h.id)
    assert step.input["fields"]["path"] == "'bad-\\udcff'"


def test_text_search_finds_quotes_backslashes_and_control_characters_literally(
    app: Conveyor, echo: Any
) -> None:
    """Payloads and errors are stored as JSON, which escapes these: the text is found as
    written, and JSON syntax (a quoted key) is still found in the stored text."""
    odd = ['say "hi"', "C:\\temp", "a\tb", "unit\x1fsep", "100%", "a_b", "é😀"]
    handles = {text: echo({"name": text}).run_now() for text in odd}
    other = echo({"name": "plain"}).run_now()
    for text, handle in handles.items():
        assert [r.id for r in app.jobs_list(text=text)] == [handle.id], text
        assert app.count(text=text) == 1, text
    assert {r.id for r in app.jobs_list(text='"name"')} == {
        h.id for h in [*handles.values(), other]}
