"""SPEC §3 dedupe as a property: any sequence of triggers with ``replace=True``,
``unique=True`` or neither leaves exactly the pending jobs a model of the rule predicts:
replace cancels every pending job of the same id, key and owner (every one of the id with
``key=None``) before storing; unique returns a matching pending job's handle instead."""

from __future__ import annotations

from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from conveyor import Conveyor

KEYED = st.tuples(st.sampled_from(["plain", "replace", "unique"]),
                  st.sampled_from(["a", "b", ""]), st.sampled_from([None, 7, "u"]))
# key=None matches every pending job of the id; whether owners still split it is left open
UNKEYED = st.tuples(st.sampled_from(["plain", "replace", "unique"]), st.none(), st.none())
OPS = st.lists(st.one_of(KEYED, UNKEYED), min_size=1, max_size=6).filter(
    lambda ops: all(o is None for _, _, o in ops) or all(k is not None for _, k, _ in ops))


def _matches(job: dict[str, Any], key: str | None, owner: Any) -> bool:
    return key is None or (job["key"] == key and job["owner"] == owner)


@settings(max_examples=8, suppress_health_check=[
    HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(ops=OPS)
def test_pending_jobs_follow_the_dedupe_rule(app: Conveyor, ops: list[Any]) -> None:
    if "dedupe" not in app.jobs:
        @app.job
        def dedupe(step: int) -> None: ...
    app.cancel_jobs(type="dedupe")
    model: dict[int, dict[str, Any]] = {}  # pending jobs by id
    for step, (mode, key, owner) in enumerate(ops):
        matching = {i for i, job in model.items() if _matches(job, key, owner)}
        options = {"key": key, "owner": owner, mode: True} if mode != "plain" else {
            "key": key, "owner": owner}
        handle = app.jobs["dedupe"](step).run_in(1, "hour", **options)
        if mode == "unique" and matching:
            assert handle.id in matching, (step, ops)
            continue
        if mode == "replace":
            for i in matching:
                del model[i]
        assert handle.id not in model
        model[handle.id] = {"key": key, "owner": owner}
    pending = {r.id for r in app.jobs_list(job="dedupe", state="scheduled")}
    assert pending == set(model), ops
