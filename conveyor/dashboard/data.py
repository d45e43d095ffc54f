"""What the dashboard shows, as plain JSON-ready dicts (shared by pages and the API).

Everything reads through the app's public methods.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from conveyor.clock import epoch
from conveyor.dashboard.tree import workflow_tree
from conveyor.records import JobRecord
from conveyor.redaction import redact
from conveyor.stores.base import STATES

if TYPE_CHECKING:
    from conveyor.app import Conveyor
    from conveyor.jobs import JobDefinition
    from conveyor.schedules.api import ScheduleRecord

PAGE_SIZE = 50
TEXT_WINDOW = 10_000  # ids a text search reads per page
THROUGHPUT_WINDOW = 3600.0
THROUGHPUT_BUCKET = 60.0
WORKER_ALIVE_WITHIN = 60.0


def iso(value: datetime | float | None) -> str | None:
    if value is None:
        return None
    if isinstance(value, (int, float)):
        value = datetime.fromtimestamp(value, UTC)
    return value.isoformat()


class Views:
    """Builds the dicts pages and API responses are made of, for one app."""

    def __init__(self, app: Conveyor, hidden: tuple[str, ...] = ()) -> None:
        self.app = app
        self.hidden = hidden

    def clean(self, value: Any) -> Any:
        return redact(value, self.hidden)

    def plain(self, item: Any) -> Any:
        """A record (dataclass, object or dict) as a redacted JSON-ready dict."""
        return self.clean(_plain(item)) if item is not None else None

    # -- runs ------------------------------------------------------------------------
    def run_summary(self, rec: JobRecord) -> dict[str, Any]:
        definition = self.app.definition(rec.job)
        return {
            "id": rec.id,
            "job": self.clean(rec.job),
            "job_slug": definition.slug if definition else None,
            "job_name": definition.display_name if definition else rec.job,
            "state": rec.state,
            "queue": self.clean(rec.queue),
            "priority": rec.priority,
            "owner": self.clean(rec.owner),
            "key": self.clean(rec.key),
            "attempts": rec.attempts,
            "max_attempts": rec.max_attempts,
            "version": rec.version,
            "created_at": iso(rec.created_at),
            "run_at": iso(rec.run_at),
            "started_at": iso(rec.started_at),
            "finished_at": iso(rec.finished_at),
            "progress": rec.progress,
            "progress_message": self.clean(rec.progress_message),
            "error": self.clean(_error_line(rec.error)),
            "payload": self.clean(rec.payload),
        }

    def run_detail(self, rec: JobRecord) -> dict[str, Any]:
        out = self.run_summary(rec)
        result = self.clean(rec.result)
        out.update(
            args=self.clean(rec.args),
            kwargs=self.clean(rec.kwargs),
            result=result,
            output=result,  # what a durable run's page calls its result
            error=self.clean(rec.error),
            rescheduled_from=rec.rescheduled_from,
            chain=self.chain(rec),
            schedule_id=rec.schedule_id,
            event_id=rec.event_id,
            event=self.event(rec.event_id),
            worker_id=rec.worker_id,
            lease_expires_at=iso(rec.lease_expires_at),
            history=[
                {"number": a.number, "started_at": iso(a.started_at),
                 "finished_at": iso(a.finished_at), "error": self.clean(a.error)}
                for a in rec.history
            ],
            logs=[
                {"at": iso(g.at), "level": g.level, "message": self.clean(g.message),
                 "attempt": g.attempt}
                for g in rec.logs
            ],
            steps=self.steps(rec.id) if self._is_durable(rec.job) else None,
            finished=rec.finished,
            can_cancel=not rec.finished,
            can_retry=rec.finished,
            hold=self.hold(rec),
            **workflow_tree(self.app, rec),
        )
        return out

    def hold(self, rec: JobRecord) -> dict[str, Any] | None:
        """Why a queued run has not started (a pause, a full limit) and when it may."""
        found = self.app.hold(rec) if rec.state == "queued" else None
        return {"reason": found.reason, "until": iso(found.until)} if found else None

    def _is_durable(self, job_id: str) -> bool:
        definition = self.app.definition(job_id)
        return definition is None or definition.kind == "durable"

    def chain(self, rec: JobRecord, limit: int = 10) -> list[dict[str, Any]]:
        """The runs this one was rescheduled from, newest first (bounded)."""
        found: list[dict[str, Any]] = []
        previous = rec.rescheduled_from
        while previous is not None and len(found) < limit:
            row = self.app.get_job(previous)
            if row is None:
                found.append({"id": previous, "state": "purged"})
                break
            found.append({"id": row.id, "state": row.state, "run_at": iso(row.run_at)})
            previous = row.rescheduled_from
        return found

    def runs(
        self,
        *,
        state: str | list[str] | None = None,
        job: str | None = None,
        owner: str | None = None,
        text: str | None = None,
        before: int | None = None,
        limit: int = PAGE_SIZE,
        parent: int | None = None,
    ) -> dict[str, Any]:
        """One page of runs, newest first, paged by id (no count over the whole table).

        A text search reads at most ``TEXT_WINDOW`` ids per page (it cannot use an
        index); when the window holds less than a page, ``next_before`` continues below
        it and ``searched_to`` says how far this page looked.
        """
        filters: dict[str, Any] = {}
        if state:
            filters["state"] = state
        if job:
            filters["job"] = job
        if owner:
            filters["owner"] = None if owner in ("system", "0") else owner
        if before is not None:
            filters["before_id"] = before
        if parent is not None:
            filters["parent"] = parent
        floor = None
        if text:
            filters["text"] = text
            top = before if before is not None else self._newest_id() + 1
            floor = max(0, top - TEXT_WINDOW - 1)
            filters["after_id"] = floor
        records = self.app.jobs_list(limit=limit + 1, **filters)
        more = len(records) > limit
        records = records[:limit]
        next_before = records[-1].id if more and records else None
        if floor and not more:
            next_before = floor + 1
        if text:  # the store matched raw text: keep only matches outside redacted values
            records = [r for r in records if self._shown_text_matches(r, text)]
        return {
            "runs": [self.run_summary(r) for r in records],
            "next_before": next_before,
            "searched_to": floor + 1 if floor is not None and not more else None,
        }

    def _shown_text_matches(self, rec: JobRecord, text: str) -> bool:
        """Whether ``text`` occurs in what is shown of the run (so a search cannot be
        used to guess a redacted value)."""
        needle = text.casefold()
        shown = [rec.job, *(self.clean(v) for v in (rec.payload, rec.args, rec.kwargs,
                                                     rec.error))]
        for value in shown:
            if isinstance(value, str):
                if needle in value.casefold():
                    return True
                continue
            for ascii_only in (False, True):
                for separators in ((", ", ": "), (",", ":")):
                    rendered = json.dumps(value, ensure_ascii=ascii_only, separators=separators)
                    if needle in rendered.casefold():
                        return True
        return False

    def _newest_id(self) -> int:
        newest = self.app.jobs_list(limit=1)
        return newest[0].id if newest else 0

    # -- definitions -------------------------------------------------------------------
    def definitions(self) -> list[dict[str, Any]]:
        stored = {s.id: s for s in self.app.schedules() if s.source == "code"}
        return [self.definition(d, stored.get(d.id)) for d in self.app.jobs.definitions()]

    def definition(self, d: JobDefinition, stored: ScheduleRecord | None = None
                   ) -> dict[str, Any]:
        """A job definition; its schedule's next fire times are the stored schedule's
        (``stored``, else read) when it is stored: an interval counted from creation
        counts from when it was first stored, not from when this process read it."""
        if stored is None and d.trigger is not None and hasattr(d.trigger, "schedule"):
            stored = self.app.get_schedule(d.id)
        opts = d.options
        return {
            "id": d.id,
            "slug": d.slug,
            "name": d.display_name,
            "version": d.version,
            "kind": d.kind,
            "queue": opts.queue,
            "priority": opts.priority,
            "timeout": opts.timeout,
            "retention": opts.retention,
            "retry": opts.retry.to_json() if opts.retry is not None else None,
            "trigger": trigger_info(d.trigger, stored),
            "doc": (d.__doc__ or "").strip() or None,
        }

    # -- overview ----------------------------------------------------------------------
    def counts(self) -> dict[str, int]:
        return self.app.counts()

    def throughput(self) -> list[dict[str, Any]]:
        now = epoch(self.app.clock)  # the app's clock, as its times are
        since = (now - THROUGHPUT_WINDOW) // THROUGHPUT_BUCKET * THROUGHPUT_BUCKET
        found = {int(b): (c, f) for b, c, f in self.app.store.throughput(since, THROUGHPUT_BUCKET)}
        buckets = []
        for i in range(int(THROUGHPUT_WINDOW // THROUGHPUT_BUCKET) + 1):
            start = since + i * THROUGHPUT_BUCKET
            completed, failed = found.get(int(start), (0, 0))
            buckets.append({"at": iso(start), "completed": completed, "failed": failed})
        return buckets

    def workers(self) -> list[dict[str, Any]]:
        now = epoch(self.app.clock)  # the app's clock, as its times are
        return [
            {"id": w.id, "host": w.host, "pid": w.pid, "queues": w.queues,
             "concurrency": w.concurrency, "started_at": iso(w.started_at),
             "heartbeat_at": iso(w.heartbeat_at),
             "seconds_since_heartbeat": round(max(0.0, now - w.heartbeat_at), 1)}
            for w in self.app.store.workers(WORKER_ALIVE_WITHIN)
        ]

    def overview(self) -> dict[str, Any]:
        failing = self.app.jobs_list(state="failed", limit=10)
        return {
            "counts": self.counts(),
            "throughput": self.throughput(),
            "failing": [self.run_summary(r) for r in failing],
            "workers": self.workers(),
        }

    # -- schedules, events and durable steps ----------------------------------------------
    def schedules(self) -> list[dict[str, Any]]:
        return [self.plain(s) for s in self.app.schedules()]

    def events(self, limit: int = PAGE_SIZE) -> list[dict[str, Any]]:
        return [self.plain(e) for e in self.app.events_list(limit=limit)]

    def event(self, event_id: str | None) -> dict[str, Any] | None:
        if event_id is None:
            return None
        found = self.app.get_event(event_id)
        # The event row is gone once event retention purged it; the run keeps its id.
        return self.plain(found) if found is not None else {"id": event_id, "purged": True}

    def steps(self, job_id: int) -> list[dict[str, Any]]:
        """Durable steps of a run as a timeline."""
        return [self.plain(s) for s in self.app.steps(job_id)]


def trigger_info(trigger: Any, stored: ScheduleRecord | None = None) -> dict[str, Any] | None:
    """What a definition's trigger is and when it fires next, as far as it can tell (as
    its ``stored`` schedule says, when that one has the trigger's text)."""
    if trigger is None:
        return None
    info: dict[str, Any] = {"kind": type(trigger).__name__, "text": str(trigger)}
    for attr in ("kind", "text", "name", "event", "filter"):
        value = getattr(trigger, attr, None)
        if isinstance(value, (str, int, float, dict, list)) and not callable(value):
            info[attr] = value
    schedule = getattr(trigger, "schedule", trigger)
    explain = getattr(schedule, "explain", None)
    upcoming = getattr(schedule, "next", None)
    try:  # a trigger that cannot tell must not break the jobs page: show why instead
        if callable(explain):
            info["explain"] = str(explain())
        if callable(upcoming):
            info["next"] = [iso(t) for t in upcoming(count=3)]
    except Exception as exc:
        info["problem"] = f"{type(exc).__name__}: {exc}"
    if stored is not None and stored.kind != "unreadable" and stored.text == info.get("text"):
        info["explain"], info["next"] = stored.explain, [iso(t) for t in stored.next[:3]]
    info["label"] = _trigger_label(info)
    return info


def _trigger_label(info: dict[str, Any]) -> str:
    if info.get("explain"):
        return str(info["explain"])
    if info["kind"] == "event" and info.get("name"):
        where = f" where {json.dumps(info['filter'])}" if info.get("filter") else ""
        return f"event {info['name']}{where}"
    return str(info.get("text", ""))


def _plain(item: Any) -> dict[str, Any]:
    """A dict from a dict, a dataclass or an object with attributes."""
    if isinstance(item, dict):
        return {k: _jsonable(v) for k, v in item.items()}
    fields = getattr(item, "__dataclass_fields__", None)
    names = list(fields) if fields else [n for n in vars(item) if not n.startswith("_")]
    return {n: _jsonable(getattr(item, n)) for n in names}


def _jsonable(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if value is None or isinstance(value, (str, int, float, bool)):
        return value
    if hasattr(value, "__dataclass_fields__"):
        return _plain(value)
    return str(value)


def _error_line(error: dict[str, Any] | None) -> str | None:
    if not error:
        return None
    kind, message = error.get("type"), error.get("message")
    return f"{kind}: {message}" if kind and message else str(message or kind or "")


__all__ = ["PAGE_SIZE", "STATES", "Views", "redact", "trigger_info"]
