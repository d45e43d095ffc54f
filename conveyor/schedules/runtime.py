"""Schedules created at run time: ``app.schedule_job(..., schedule=...)`` and
``app.schedule_cron_job(...)``.

A runtime schedule's id comes from its job, ``key`` and owner when any of ``key``,
``replace`` (``cancel_repeats``) or ``unique`` is given, so scheduling the same (job,
key, owner) again updates that one schedule (``unique`` keeps it as it is); without
them from (job, schedule text, data, owner) (the data's keys in any order), so running
the same call again (at every start, say) updates that schedule instead of adding
another. ``replace=True`` also removes the job's other runtime schedules of that owner
(and key, when given) and cancels its pending one-off jobs, like Reaction's
``cancelRepeats``; replaced occurrences are kept as ``cancelled`` records.
"""

from __future__ import annotations

import hashlib
import json
from typing import TYPE_CHECKING, Any

from conveyor.errors import ConfigurationError, ScheduleError
from conveyor.jobs import JobHandle
from conveyor.options import coerce_seconds, flag
from conveyor.schedules.periodic import make_row
from conveyor.schedules.schedule import parse_schedule
from conveyor.serialization import read_stored
from conveyor.stores.base import JobFilter, NewJob, Store

if TYPE_CHECKING:
    from conveyor.host import Host
    from conveyor.jobs import JobCall
    from conveyor.schedules.periodic import Periodic


def runtime_id(job: str, key: str | None, owner: str | None) -> str:
    """The id of the runtime schedule of (job, key, owner)."""
    parts = [job, key if key is not None else "runtime"]
    if owner is not None:
        parts.append(f"owner={owner}")
    return ":".join(parts)


def identity(store: Store, job: NewJob, text: str) -> str:
    """The id of a keyless runtime schedule: (job, schedule text, data, owner), the data's
    keys in any order. A schedule stored under the id that counted their order (as
    earlier versions did) keeps it."""
    found = _identity(job, text, _canonical(job.args), _canonical(job.kwargs))
    before = _identity(job, text, job.args, job.kwargs)
    if before != found and store.get_schedule(found) is None and store.get_schedule(before):
        return before
    return found


def _identity(job: NewJob, text: str, args: str, kwargs: str) -> str:
    basis = json.dumps([job.job, " ".join(text.lower().split()), args, kwargs, job.owner])
    return f"{job.job}:{hashlib.sha256(basis.encode()).hexdigest()[:12]}"


def _canonical(text: str) -> str:
    """Stored JSON ``text`` with every object's keys sorted (as stored when they were): the
    same text ``dumps`` gives, without checking the limits again (the app's own, possibly
    raised, were checked when the data was stored)."""
    return json.dumps(json.loads(text), sort_keys=True, separators=(",", ":"),
                      ensure_ascii=False)


def schedule_call(
    app: Host, periodic: Periodic, call: JobCall, text: str, options: dict[str, Any]
) -> JobHandle:
    """Store a runtime schedule for ``call``; returns the handle of its next occurrence."""
    options = dict(options)
    tz = options.pop("tz", None)
    misfire = coerce_seconds("misfire", options.pop("misfire", None))
    replace = flag("replace", options.pop("replace", False))
    unique = flag("unique", options.pop("unique", False))
    if replace and unique:
        raise ConfigurationError("replace=True and unique=True cannot be combined; pick one")
    if options.pop("connection", None) is not None:
        raise ConfigurationError("connection= cannot be combined with schedule=")
    if not isinstance(text, str):
        raise ScheduleError(f"schedule must be a str like 'every day at 9:30', not {text!r}")
    schedule = parse_schedule(text, tz=tz or app.timezone)
    job = app.triggering.new_job(call, None, 0.0, options)
    named = replace or unique or job.key is not None
    sid = runtime_id(job.job, job.key, job.owner) if named else identity(app.store, job, text)
    row = make_row(sid, schedule, job, misfire, "runtime")
    store = app.store
    if unique and (existing := store.get_schedule(sid)) is not None:
        row.fingerprint = existing.fingerprint  # keep the stored one as it is
    if replace:
        _replace_others(store, sid, job.job, job.key, job.owner)
    saved, found = periodic.save(store, row)
    if found is None:
        why = "it is paused (app.resume_schedule(id) resumes it)" if saved.paused else (
            "its text has no fire time after now")
        raise ScheduleError(f"schedule {sid!r} stored no occurrence: {why}")
    return JobHandle(app, found)


def _replace_others(store: Store, sid: str, job: str, key: str | None, owner: str | None) -> None:
    """Remove the job's other runtime schedules for this owner (and key) and cancel its
    pending one-off jobs."""
    others = []
    for row in store.list_schedules():
        opts = read_stored(row.options)
        if not isinstance(opts, dict):  # written by other software: not one of these
            continue
        same_key = key is None or opts.get("key") == key
        if (row.source == "runtime" and row.job == job and row.id != sid
                and opts.get("owner") == owner and same_key):
            others.append(row.id)
    if others:
        store.delete_schedules(others)
    pending = JobFilter(states=["scheduled", "queued"], jobs=[job], owner=owner,
                        any_owner=False, key=key)
    one_offs = [r.id for r in store.list_jobs(pending, limit=10_000) if r.schedule_id is None]
    if one_offs:
        store.cancel(JobFilter(ids=one_offs))
