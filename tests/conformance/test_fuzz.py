"""Fuzz (every store): hostile payloads through trigger and worker, hostile event
payloads against every kind of filter. Refused input is refused at the door with a
PayloadError; whatever is accepted is stored, run and read back unchanged."""

from __future__ import annotations

import math
import sys
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from conveyor import Conveyor, PayloadError
from conveyor.eventfilters import matches
from tests.conformance.helpers import drain

#: Examples per store and surface (kept small: each one is a real store write).
EXAMPLES = 100
FUZZ = settings(max_examples=EXAMPLES, deadline=None, database=None,
                suppress_health_check=list(HealthCheck))

hostile_text = st.one_of(
    st.text(max_size=12),
    st.text(st.characters(exclude_categories=()), max_size=6),  # surrogates included
    st.sampled_from(["\x00", "a\x00b", "\ud800", "x\udfff", "\ud83d\ude00", "\\u0000", ""]),
)
numbers = st.one_of(
    st.integers(),
    st.sampled_from([10**400, -(10**400), 2**63, -(2**64), 10**4000]),
    st.floats(),  # nan and infinities included
    st.sampled_from([1e308, -1e308, 5e-324, -0.0]),
)


def nested(depth: int) -> Any:
    value: Any = "leaf"
    for n in range(depth):
        value = [value] if n % 2 else {"k": value}
    return value


payloads = st.one_of(
    st.recursive(
        st.none() | st.booleans() | numbers | hostile_text,
        lambda inner: st.lists(inner, max_size=4)
        | st.dictionaries(hostile_text, inner, max_size=4),
        max_leaves=12,
    ),
    st.integers(60, 70).map(nested),
)


def storable(value: Any, depth: int = 64) -> bool:
    """The reference rule: JSON without NUL or lone surrogates, at most 64 deep."""
    if isinstance(value, str):
        return "\x00" not in value and not any(0xD800 <= ord(c) <= 0xDFFF for c in value)
    if isinstance(value, bool) or value is None:
        return True
    if isinstance(value, int):
        return len(str(abs(value))) <= sys.get_int_max_str_digits()
    if isinstance(value, float):
        return math.isfinite(value)
    if depth == 0:
        return False
    if isinstance(value, list):
        return all(storable(v, depth - 1) for v in value)
    return all(storable(k) and storable(v, depth - 1) for k, v in value.items())


def test_hostile_payloads_are_refused_at_trigger_time_or_run_unchanged(app: Conveyor) -> None:
    @app.job
    def echo(payload: Any) -> Any:
        return payload

    accepted: list[tuple[Any, Any]] = []
    refused = 0

    @FUZZ
    @given(payloads)
    def trigger(value: Any) -> None:
        nonlocal refused
        if storable(value):
            accepted.append((echo(value).run_now(), value))
        else:
            before = app.count()
            try:
                echo(value).run_now()
            except PayloadError as exc:
                assert str(exc).startswith("payload")
                refused += 1
            else:
                raise AssertionError(f"stored a payload the rule refuses: {value!r}")
            assert app.count() == before

    trigger()
    drain(app, concurrency=8)
    for handle, value in accepted:
        assert handle.result() == value
    assert accepted and refused  # both sides of the rule were exercised


FILTERS: dict[str, dict[str, Any]] = {
    "plain": {"v": ["x", 1, True, None]},
    "prefix": {"v": [{"prefix": "a"}]},
    "suffix": {"v": [{"suffix": "z"}]},
    "ignore-case": {"v": [{"equals-ignore-case": "ABC"}]},
    "anything-but": {"v": [{"anything-but": ["x", 1]}]},
    "numeric": {"v": [{"numeric": [">", -5, "<=", 1e300]}]},
    "exists": {"v": [{"exists": True}]},
    "missing": {"v": [{"exists": False}]},
    "nested": {"v": {"w": [{"numeric": ["=", 0]}, "a"]}},
}


event_values = st.recursive(
    st.none() | st.booleans() | numbers.filter(lambda n: not isinstance(n, float)
                                               or math.isfinite(n))
    | st.text(max_size=6),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.sampled_from(
        ["v", "w", "x"]), inner, max_size=3),
    max_leaves=8,
).filter(storable)


def test_event_payloads_against_every_filter_kind_never_fail_delivery(app: Conveyor) -> None:
    started: dict[str, int] = {}
    for name, flt in FILTERS.items():
        def record(payload: Any, name: str = name) -> None:
            started[name] = started.get(name, 0) + 1

        app.job(f"on-{name}", trigger=app.event("fuzz", filter=flt))(record)

    expected: dict[str, int] = {}

    @FUZZ
    @given(st.one_of(event_values, st.dictionaries(st.just("v"), event_values, max_size=1)))
    def send(payload: Any) -> None:
        event = app.send_event("fuzz", payload)
        wanted = sorted(f"on-{n}" for n, flt in FILTERS.items() if matches(flt, payload))
        runs = [app.get_job(i) for i in event.runs]
        assert sorted(r.job for r in runs if r is not None) == wanted
        for job in wanted:
            expected[job[3:]] = expected.get(job[3:], 0) + 1

    send()
    drain(app, concurrency=8)
    assert started == expected
    assert app.count(state="failed") == 0


identifiers = st.one_of(
    hostile_text,
    st.sampled_from(["%", "_", "a%b_c", "\x1f", "a\x1fb", "'", '"', "\\", " x ", "é😀",
                     "\u202e", "NULL", "0", "k" * 1024, "é" * 600]),
)


def test_keys_owners_and_queues_are_refused_at_trigger_time_or_found_exactly(
    app: Conveyor,
) -> None:
    """Whatever text is given as key, owner or queue is either refused with one clear
    ConfigurationError or stored, and a filter on it finds exactly that job."""
    from conveyor import ConfigurationError

    @app.job
    def echo(payload: Any = None) -> Any:
        return payload

    @settings(max_examples=60, deadline=None, database=None,
              suppress_health_check=list(HealthCheck))
    @given(identifiers, st.sampled_from(["key", "owner", "queue"]))
    def trigger(value: str, option: str) -> None:
        before = app.count()
        try:
            handle = echo(1).run_now(**{option: value})
        except ConfigurationError as exc:
            assert f"invalid {option}" in str(exc) and "accepted" in str(exc)
            assert app.count() == before
            return
        stored = None if option == "owner" and value == "" else value  # "": the system
        found = app.jobs_list(**{option: stored}, limit=1000)
        assert handle.id in [r.id for r in found]
        assert all(getattr(r, option) == stored for r in found)
        record = app.get_job(handle.id)
        assert record is not None and getattr(record, option) == stored

    trigger()
    drain(app, concurrency=8)
    assert app.count(state="failed") == 0
