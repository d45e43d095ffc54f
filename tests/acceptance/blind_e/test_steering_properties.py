"""SPEC §4 steering as a property: any sequence of triggers (due now or later, failing or
not), ``cancel``, ``retry``, ``cancel_jobs`` and worker passes leaves every job in the same
state, with the same attempts and result, on every store."""

from __future__ import annotations

from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from conveyor import Conveyor
from tests.conformance.helpers import drain

OPS = st.lists(st.one_of(
    st.tuples(st.just("trigger"), st.booleans(), st.booleans()),  # (later, fails)
    st.tuples(st.sampled_from(["cancel", "retry"]), st.integers(0, 5)),
    st.tuples(st.just("cancel_jobs"), st.sampled_from([None, "queued", "scheduled"])),
    st.tuples(st.just("work")),
), min_size=1, max_size=8)


def _apply(app: Conveyor, ops: list[Any]) -> list[Any]:
    if "steered" not in app.jobs:
        @app.job(retry=1)
        def steered(n: int, fails: bool) -> int:
            if fails:
                raise RuntimeError(f"job {n} fails")
            return n
    app.cancel_jobs()
    app.purge()
    ids: list[int] = []
    answers: list[Any] = []
    for op in ops:
        if op[0] == "trigger":
            call = app.jobs["steered"](len(ids), op[2])
            ids.append((call.run_in(1, "day") if op[1] else call.run_now()).id)
        elif op[0] in ("cancel", "retry") and ids:
            answers.append(getattr(app, op[0])(ids[op[1] % len(ids)]))
        elif op[0] == "cancel_jobs":
            answers.append(app.cancel_jobs(type="steered", state=op[1]))
        elif op[0] == "work":
            drain(app)
    records = [app.get_job(i) for i in ids]
    return answers + [(r.state, r.attempts, r.max_attempts, r.result, len(r.history))
                      for r in records if r is not None]


@settings(max_examples=8, suppress_health_check=[
    HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(ops=OPS)
def test_every_store_steers_jobs_alike(every_store: list[Conveyor], ops: list[Any]) -> None:
    memory, *others = (_apply(app, ops) for app in every_store)
    assert all(found == memory for found in others), (ops, memory, others)
