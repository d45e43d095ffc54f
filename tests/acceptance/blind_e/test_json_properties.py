"""SPEC §2/§4/§8 as properties: any payload JSON can hold is read back as given (types
too), by ``get_job`` and by the job itself, and its result likewise; a payload subset
taken from a payload finds it; and every store finds the same jobs for one subset."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from conveyor import Conveyor
from tests.acceptance.blind_core.support import record
from tests.acceptance.blind_e.support import JSON, KEYS, OBJECTS, as_read_back, same
from tests.conformance.helpers import drain

FIXTURE_REUSED = settings(max_examples=10,
                          suppress_health_check=[
                              HealthCheck.too_slow, HealthCheck.function_scoped_fixture])


@FIXTURE_REUSED
@given(args=st.lists(JSON, max_size=3), kwargs=st.dictionaries(
    st.text(alphabet="xyzé_", min_size=1, max_size=4).filter(str.isidentifier), JSON,
    max_size=2))
def test_arguments_are_read_back_with_their_types(app: Conveyor, args: list[Any],
                                                  kwargs: dict[str, Any]) -> None:
    if "echo" not in app.jobs:
        @app.job
        def echo(*a: Any, **k: Any) -> None: ...

    rec = record(app, app.jobs["echo"](*args, **kwargs).run_now())
    assert same(as_read_back(list(rec.args)), as_read_back(args))
    assert same(dict(rec.kwargs), as_read_back(kwargs))


@settings(max_examples=5, suppress_health_check=[
    HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(values=st.lists(JSON, min_size=1, max_size=4))
def test_the_job_gets_and_returns_what_it_was_given(app: Conveyor, values: list[Any]) -> None:
    if "mirror" not in app.jobs:
        @app.job
        def mirror(value: Any) -> Any:
            # One of the values given (sync jobs run in threads, in no set order).
            seen = mirror.seen  # type: ignore[attr-defined]
            seen.pop(next(i for i, given in enumerate(seen) if same(value, given)))
            return value

        mirror.seen = []  # type: ignore[attr-defined]
    job = app.jobs["mirror"]
    job.seen[:] = [as_read_back(v) for v in values]  # type: ignore[union-attr]
    handles = [job(v).run_now() for v in values]
    drain(app)
    for value, handle in zip(values, handles, strict=True):
        assert record(app, handle).state == "completed"
        assert same(record(app, handle).result, as_read_back(value))
        assert same(handle.result(timeout=30), as_read_back(value))


def _subset_of(payload: dict[str, Any], data: st.DataObject) -> dict[str, Any]:
    keys = data.draw(st.lists(st.sampled_from(sorted(payload)), unique=True)) if payload else []
    return {k: payload[k] for k in keys}


@FIXTURE_REUSED
@given(payload=OBJECTS, data=st.data())
def test_a_subset_taken_from_the_payload_finds_it(app: Conveyor, payload: dict[str, Any],
                                                  data: st.DataObject) -> None:
    if "shop" not in app.jobs:
        @app.job
        def shop(p: Any) -> None: ...
    handle = app.jobs["shop"](payload).run_now()
    subset = _subset_of(payload, data)
    assert handle.id in {r.id for r in app.jobs_list(job="shop", data=subset, state="queued")}
    assert app.cancel_jobs(type="shop", data=subset) >= 1
    assert record(app, handle).state == "cancelled"


SUBSETS = st.one_of(st.dictionaries(KEYS, JSON, max_size=2), JSON.filter(lambda v: v is not None))


@settings(max_examples=15, suppress_health_check=[
    HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(payloads=st.lists(st.one_of(OBJECTS, JSON), min_size=1, max_size=4), subset=SUBSETS)
@example(payloads=[{"a": 2**70}, {"a": float(2**70)}, {"a": 0}, {"a": -0.0}, {"a": 1.0}],
         subset={"a": float(2**70)})
@example(payloads=[{"a": 2**70}, {"a": float(2**70)}], subset={"a": 2**70})
@example(payloads=[{"a": [1, 2, {"b": True}]}, {"a": 1}], subset={"a": [{"b": 1}]})
@example(payloads=[[1, 2], [[1], 2], [1.0], "x", 1, {"a": [1]}], subset=1)
@example(payloads=[["x"], "x", [["x"]]], subset="x")
def test_every_store_finds_the_same_jobs_for_one_subset(
        every_store: list[Conveyor], payloads: list[Any], subset: Any) -> None:
    def found(app: Conveyor) -> list[int]:
        if "find" not in app.jobs:
            @app.job
            def find(p: Any) -> None: ...
        positions = {app.jobs["find"](p).run_now().id: i for i, p in enumerate(payloads)}
        hits = sorted(positions[r.id] for r in app.jobs_list(data=subset, state="queued"))
        assert app.count(data=subset, state="queued") == len(hits)
        assert app.cancel_jobs(data=subset) == len(hits)
        app.cancel_jobs()
        return hits

    memory, *others = (found(each) for each in every_store)
    assert all(hits == memory for hits in others), (memory, others)


def test_ints_and_floats_of_one_binary_value_but_other_json_text_are_other_numbers(
        make: Callable[..., Conveyor]) -> None:
    """``float(2**70)`` is written ``1.1805916207174113e+21``: not the number ``2**70``."""
    app = make()

    @app.job
    def n(p: Any) -> None: ...

    big_int, big_float, small = (n({"v": v}).run_now() for v in (2**70, float(2**70), 1.0))
    assert {r.id for r in app.jobs_list(data={"v": 2**70})} == {big_int.id}
    assert {r.id for r in app.jobs_list(data={"v": float(2**70)})} == {big_float.id}
    assert app.cancel_jobs(data={"v": float(2**70)}) == 1
    assert record(app, big_int).state == "queued" and record(app, small).state == "queued"
