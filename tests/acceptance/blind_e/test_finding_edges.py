"""SPEC §4 finding and cancelling: the arguments of ``jobs_list`` / ``count`` /
``cancel_jobs`` are read alike on every store: odd values get one clear error, bounds past
what a store holds keep their meaning, and the payload subset is checked as a payload."""

from __future__ import annotations

import math
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from conveyor import Conveyor, PayloadError
from tests.acceptance.blind_core.support import field
from tests.acceptance.blind_e.support import refused
from tests.conformance.helpers import drain


def _three(app: Conveyor) -> list[int]:
    """Three queued runs of job ``job`` (defined on first use)."""
    if "job" not in app.jobs:
        app.job("job")(lambda: None)
    return [app.jobs["job"]().run_now().id for _ in range(3)]


def test_paging_arguments_are_whole_numbers_from_zero(app: Conveyor) -> None:
    _three(app)
    for options, named in [({"limit": True}, "limit"), ({"limit": "5"}, "limit"),
                           ({"limit": 1.5}, "limit"), ({"limit": -1}, "limit"),
                           ({"offset": "1"}, "offset"), ({"offset": 1.5}, "offset"),
                           ({"offset": -1}, "offset"), ({"newest_first": "no"}, "newest_first")]:
        refused(lambda options=options: app.jobs_list(**options), named, str(options[named]))
    assert len(app.jobs_list(limit=0)) == 0
    assert len(app.jobs_list(limit=2**63)) == len(app.jobs_list(limit=2**70)) == 3
    assert app.jobs_list(offset=2**63) == app.jobs_list(offset=2**70) == []


def test_a_state_filter_that_is_no_state_names_the_accepted_ones(app: Conveyor) -> None:
    for state in [5, "finished", ["queued", "done"], b"queued", {"queued": 1}]:
        for find in (app.jobs_list, app.count, app.cancel_jobs):
            refused(lambda state=state, find=find: find(state=state), "accepted", "scheduled",
                    "cancelled")
    assert app.count(state=("queued", "scheduled")) == 0


def test_id_bounds_past_64_bits_keep_their_meaning(app: Conveyor) -> None:
    ids = _three(app)
    everything, nothing = set(ids), set[int]()
    for filters, expected in [
        ({"before_id": 2**70}, everything), ({"before_id": -(2**70)}, nothing),
        ({"after_id": 2**70}, nothing), ({"after_id": -(2**70)}, everything),
        ({"parent": 2**70}, nothing), ({"parent": -(2**70)}, nothing),
        ({"ids": [2**70, ids[0]]}, {ids[0]}), ({"parent": 2**70, "ids": ids}, nothing),
        ({"after_id": ids[0], "before_id": ids[2]}, {ids[1]}),
    ]:
        assert {r.id for r in app.jobs_list(**filters)} == expected, filters
        assert app.count(**filters) == len(expected), filters


def test_created_between_takes_aware_datetimes_and_says_so(make: Callable[..., Conveyor]) -> None:
    app = make(timezone="Europe/Paris")
    _three(app)
    for bad in ["2020-01-01", 5, datetime(2020, 1, 1)]:
        for name in ("since", "until"):
            refused(lambda bad=bad, name=name: app.count(**{name: bad}), "datetime")
    assert app.count(since=datetime.max.replace(tzinfo=UTC)) == 0
    assert app.count(until=datetime.min.replace(tzinfo=UTC)) == 0
    assert app.count(since=datetime.min.replace(tzinfo=UTC),
                     until=datetime.max.replace(tzinfo=UTC)) == 3


def test_a_subset_json_cannot_hold_is_a_payload_error_naming_its_path(app: Conveyor) -> None:
    _three(app)
    for data, path in [({"a": math.nan}, 'data["a"]'), ({"a": ["\x00"]}, 'data["a"][0]'),
                       ({"\ud800": 1}, "\\ud800"), ({1: 2}, "key 1"),
                       ({"a": {"b": object()}}, 'data["a"]["b"]'), ({"a": math.inf}, "inf")]:
        for find in (app.jobs_list, app.count, app.cancel_jobs):
            refused(lambda data=data, find=find: find(data=data), path, error=PayloadError)
    assert app.count(state="queued") == 3


def test_cancel_jobs_by_owner_and_key_values_no_store_can_hold(app: Conveyor) -> None:
    _three(app)
    for options, named in [({"owner": 1.5}, "owner"), ({"owner": "a\x00"}, "owner"),
                           ({"key": 5}, "key"), ({"key": "a\x00"}, "key"),
                           ({"type": 5}, "5"), ({"type": "a\ud800"}, "surrogate")]:
        refused(lambda options=options: app.cancel_jobs(**options), named)
    assert app.cancel_jobs(owner=2**100) == app.cancel_jobs(key="") == 0
    assert app.cancel_jobs(type="job", owner=None) == 3


def test_every_record_read_back_has_spec_types(app: Conveyor) -> None:
    @app.job(retry=1)
    def twice(meta: Any) -> int:
        if meta.attempt == 1:
            raise RuntimeError("first attempt")
        return meta.attempt

    def utc(when: Any) -> bool:
        return when is None or (isinstance(when, datetime) and when.utcoffset() == timedelta(0))

    handles = [twice().run_now(), twice().run_in(1, "day")]
    drain(app)
    for rec in [app.get_job(h.id) for h in handles] + app.jobs_list():
        assert rec is not None and type(rec.attempts) is int and type(rec.max_attempts) is int
        for name in ("run_at", "created_at", "started_at", "finished_at"):
            assert utc(getattr(rec, name)), (name, getattr(rec, name))
        assert [field(a, "number") for a in rec.history] == list(range(1, rec.attempts + 1))
        for attempt in rec.history:
            assert utc(field(attempt, "started_at")) and utc(field(attempt, "finished_at"))


def test_purge_and_cancel_flags_are_true_or_false(app: Conveyor) -> None:
    @app.job
    def job() -> None: ...

    done, pending = job().run_now(), job().run_in(1, "hour")
    app.cancel(done.id)
    refused(lambda: app.purge(expired="yes"), "expired", "True or False")
    refused(lambda: app.cancel(pending.id, cascade="no"), "cascade", "True or False")
    # expired=True purges by retention only: a filter with it would be ignored
    refused(lambda: app.purge(expired=True, job="job"), "job", error=TypeError)
    assert app.count() == 2 and app.purge(expired=True) == 0
    assert app.purge(job="job") == 1 and app.count() == 1


def test_an_id_given_as_text_is_its_decimal_digits(app: Conveyor) -> None:
    ids = [job_id for _ in range(4) for job_id in _three(app)]
    tenth, first = ids[9], ids[0]
    assert app.get_job(f" {tenth} ").id == tenth and app.get_job(f"+{tenth}").id == tenth
    for text in [f"{str(tenth)[:-1]}_{str(tenth)[-1]}", "".join(chr(0x660 + int(d))
                                                                  for d in str(first)),
                 f"{first}.0", hex(first), f"{first}e0"]:
        assert app.get_job(text) is None, text
        assert app.cancel(text) is False and app.retry(text) is False, text
        refused(lambda text=text: app.count(parent=text), "parent", "run id")
    assert app.count(state="queued") == 12
