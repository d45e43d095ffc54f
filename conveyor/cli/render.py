"""Printing definitions and job records with rich (tables, detail views, JSON)."""

from __future__ import annotations

import dataclasses
import json
import os
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from rich.console import Console
from rich.table import Table
from rich.text import Text

from conveyor.priority import Priority
from conveyor.redaction import redact, redact_text

if TYPE_CHECKING:
    from conveyor.durable.steps import Step
    from conveyor.jobs import JobDefinition
    from conveyor.records import JobRecord
    from conveyor.retry import Retry
    from conveyor.schedules.api import ScheduleRecord

STATE_STYLES = {
    "scheduled": "cyan", "queued": "blue", "blocked": "dark_orange", "running": "yellow",
    "waiting": "magenta",
    "completed": "green", "failed": "red", "cancelled": "dim",
}


def console(err: bool = False) -> Console:
    """A console that keeps tables readable when output is piped (no 80-column cut)."""
    width = None if os.environ.get("COLUMNS") else 160
    return Console(stderr=err, width=width, soft_wrap=False, highlight=False)


def safe_url(url: str) -> str:
    """The URL without its password or secret parameters, for printing."""
    return redact_text(url)


def plural(count: int, word: str, words: str | None = None) -> str:
    """``1 job``, ``2 jobs`` (``words``: an irregular plural)."""
    return f"{count} {word if count == 1 else (words or word + 's')}"


def when(value: datetime | None) -> str:
    return value.strftime("%Y-%m-%d %H:%M:%S") if value else "-"


def short_when(value: datetime | None, today: str) -> str:
    """``12:02:42`` today (UTC), ``2026-11-20 12:02`` on other days."""
    if value is None:
        return "-"
    stamp = value.strftime("%Y-%m-%d %H:%M:%S")
    return stamp[11:] if stamp.startswith(today) else stamp[:16]


def priority(value: int) -> str:
    return Priority(value).label


def retry_text(policy: Retry | None) -> str:
    if policy is None or policy.retries == 0:
        return "no retries"
    text = f"{policy.retries} × {policy.backoff} from {_seconds(policy.wait_seconds)}"
    if policy.max_wait_seconds is not None:
        text += f" (max {_seconds(policy.max_wait_seconds)})"
    return text + (" ± jitter" if policy.jitter else "")


def _seconds(value: float) -> str:
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if value >= size and value % size == 0:
            return f"{int(value // size)}{unit}"
    return f"{value:g}s"


def trigger_text(trigger: Any) -> str:
    if trigger is None:
        return "-"
    explain = getattr(trigger, "explain", None)
    return str(explain()) if callable(explain) else str(trigger)


def jobs_table(definitions: list[JobDefinition], paused: set[str] | None = None) -> Table:
    """The definitions; a job whose stored schedule is paused says so (``paused``)."""
    table = Table(box=None, header_style="bold", pad_edge=False)
    for column in ("ID", "NAME", "VERSION", "QUEUE", "PRIORITY", "RETRY", "TRIGGER"):
        table.add_column(column, overflow="fold")
    for d in definitions:
        table.add_row(
            d.id, d.display_name, d.version or "-", d.options.queue,
            priority(d.options.priority), retry_text(d.options.retry),
            trigger_text(d.trigger) + (" (paused)" if d.id in (paused or ()) else ""),
        )
    return table


def job_json(d: JobDefinition, schedule: ScheduleRecord | None = None) -> dict[str, Any]:
    """A definition as JSON-ready data: the columns of :func:`jobs_table`, and for a
    scheduled job whether it is paused and its next fire time (as stored, else as its
    trigger reads before a worker stores it)."""
    if schedule is not None:
        upcoming = schedule.next[0] if schedule.next else None
    else:
        upcoming = _predicted(d.trigger)
    return {
        "id": d.id, "name": d.display_name, "version": d.version, "queue": d.options.queue,
        "priority": d.options.priority, "retry": retry_text(d.options.retry),
        "trigger": None if d.trigger is None else trigger_text(d.trigger),
        "paused": bool(schedule and schedule.paused),
        "next": iso(upcoming) if upcoming is not None else None,
    }


def _predicted(trigger: Any) -> datetime | None:
    """The next fire time a schedule trigger reads (None for other triggers)."""
    upcoming = getattr(getattr(trigger, "schedule", trigger), "next", None)
    if not callable(upcoming):
        return None
    try:
        times = upcoming(count=1)
    except Exception:  # a trigger that cannot tell leaves "next" empty, never fails jobs
        return None
    return times[0] if times and isinstance(times[0], datetime) else None


def state(value: str) -> Text:
    return Text(value, style=STATE_STYLES.get(value, ""))


def summary(record: JobRecord) -> str:
    """One short phrase: the error, the progress or the result."""
    if record.error and record.state != "completed":
        error = redact(record.error)
        return f"{error.get('type', 'Error')}: {error.get('message', '')}"
    if record.state == "running" and record.progress is not None:
        message = redact_text(record.progress_message or "")
        return f"{record.progress * 100:.0f}% {message}".strip()
    if record.state == "completed" and record.result is not None:
        return json.dumps(redact(record.result), ensure_ascii=False)
    return ""


def runs_table(records: list[JobRecord], width: int) -> Table:
    """One line per run; on narrow terminals the less useful columns go first."""
    today = datetime.now(UTC).strftime("%Y-%m-%d")
    columns: dict[str, list[str]] = {
        "ID": [str(r.id) for r in records],
        "JOB": [r.job for r in records],
        "STATE": [r.state for r in records],
        "ATTEMPT": [f"{r.attempts}/{r.max_attempts}" for r in records],
        "QUEUE": [r.queue for r in records],
        "PRIORITY": [priority(r.priority) for r in records],
        "CREATED": [short_when(r.created_at, today) for r in records],
        "DUE": [short_when(r.run_at, today) for r in records],
        "FINISHED": [short_when(r.finished_at, today) for r in records],
    }

    def used() -> int:
        return sum(max(len(h), *map(len, cells)) + 2 for h, cells in columns.items())

    for optional in ("CREATED", "PRIORITY", "QUEUE", "ATTEMPT"):
        if used() + 20 <= width:
            break
        del columns[optional]
    table = Table(box=None, header_style="bold", pad_edge=False, caption_justify="left",
                  caption="times in UTC")
    for header in columns:
        table.add_column(header, no_wrap=True)
    table.add_column("ERROR / RESULT", overflow="ellipsis", no_wrap=True,
                     max_width=max(width - used(), 14))
    for i, record in enumerate(records):
        cells: list[str | Text] = [cells[i] for cells in columns.values()]
        cells[2] = state(record.state)
        table.add_row(*cells, " ".join(summary(record).split()))  # one line per run
    return table


def record_json(record: JobRecord) -> dict[str, Any]:
    """The record as JSON-ready data, secrets redacted."""
    data: dict[str, Any] = redact(json.loads(json.dumps(dataclasses.asdict(record),
                                                        default=json_default)))
    return data


def json_default(value: Any) -> Any:
    """JSON for what ``json`` cannot write: datetimes as ISO 8601 UTC, the rest as text."""
    if isinstance(value, datetime):
        return iso(value)
    return str(value)


def iso(value: datetime) -> str:
    """ISO 8601 in UTC (``2027-01-01T09:30:00+00:00``); a naive value is taken as UTC."""
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.astimezone(UTC).isoformat()


def show_record(out: Console, record: JobRecord, steps: list[Step] | None = None) -> None:
    """Every field, then the attempts (errors with tracebacks), the durable steps, then
    the logs."""
    out.print(Text.assemble((f"job {record.id} ", "bold"), (record.job, "bold"), "  ",
                            state(record.state)))
    fields = Table(box=None, show_header=False, pad_edge=False)
    fields.add_column(style="bold")
    fields.add_column(overflow="fold")
    for f in dataclasses.fields(record):
        if f.name in ("logs", "history"):
            continue
        if f.name == "payload" and (len(record.args) > 1 or (record.args and record.kwargs)):
            continue  # several arguments: args and kwargs above say it all
        value = redact(getattr(record, f.name))
        if isinstance(value, datetime):
            text = value.isoformat()
        elif f.name == "priority":
            text = f"{priority(value)} ({value})"
        elif f.name == "error" and value:  # its traceback is printed with the history
            text = f"{value.get('type', 'Error')}: {value.get('message', '')}"
        elif f.name == "progress" and value is not None:
            text = f"{value * 100:.0f}%"
        elif isinstance(value, (dict, list)) or f.name == "result":
            text = json.dumps(value, ensure_ascii=False)
        else:
            text = "-" if value is None else str(value)
        fields.add_row(f.name, Text(text))
    out.print(fields)
    out.print(Text(f"history ({plural(len(record.history), 'attempt')})", style="bold"))
    for attempt in record.history:
        outcome = "ok" if attempt.error is None else "failed"
        if attempt.finished_at is None:
            outcome = "running" if record.state == "running" else "interrupted"
        out.print(f"  attempt {attempt.number}: {when(attempt.started_at)} → "
                  f"{when(attempt.finished_at)}  {outcome}")
        if attempt.error:
            error = redact(attempt.error)
            out.print(Text(f"    {error.get('type', 'Error')}: "
                           f"{error.get('message', '')}", style="red"))
            trace = error.get("traceback")
            if trace:
                out.print(Text("      " + str(trace).rstrip().replace("\n", "\n      ")))
    if steps:
        show_steps(out, steps)
    out.print(Text(f"logs ({plural(len(record.logs), 'line')})", style="bold"))
    for line in record.logs:
        out.print(Text(f"  {when(line.at)} #{line.attempt} {line.level.upper():7} "
                       f"{redact(line.message)}"))


def show_steps(out: Console, steps: list[Step]) -> None:
    """A durable run's steps in order: key, kind, state, times, output or error."""
    out.print(Text(f"steps ({plural(len(steps), 'step')})", style="bold"))
    for step in steps:
        line = f"  {step.seq}. {step.key} [{step.kind}] {step.state}"
        if step.started_at is not None:
            line += f"  {when(step.started_at)} → {when(step.finished_at)}"
        if step.wake_at is not None and step.state == "waiting":
            line += f"  wakes {when(step.wake_at)}"
        out.print(Text(line))
        if step.error:
            error = redact(step.error)
            out.print(Text(f"     {error.get('type', 'Error')}: {error.get('message', '')}",
                           style="red"))
        elif step.kind == "log" and isinstance(step.input, dict):
            out.print(Text(f"     {redact(step.input.get('message', ''))}"))
        elif step.output is not None:
            output = json.dumps(redact(step.output), default=str, ensure_ascii=False)
            out.print(Text(f"     → {output[:200]}"))
