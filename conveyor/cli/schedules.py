"""``conveyor schedules``: list recurring schedules; pause, resume or remove them."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

import click
from rich.table import Table

from conveyor.app import Conveyor
from conveyor.cli.base import USER_ERROR, app_options
from conveyor.cli.render import console, iso, plural, state, when
from conveyor.schedules.api import ScheduleRecord


def schedules_table(records: list[ScheduleRecord]) -> Table:
    table = Table(box=None, header_style="bold", pad_edge=False)
    for column in ("ID", "JOB", "DEFINITION", "NEXT (UTC)", "NEXT (LOCAL)", "LAST RUN"):
        table.add_column(column, overflow="fold")
    for s in records:
        definition = f"{s.text}\n[dim]{s.explain}[/dim]"
        if s.paused:
            definition += "\n[yellow]paused[/yellow]"
        local = [f"{when(t)} {t.tzname()}" for t in s.next_local]
        last = "-"
        if s.last_run is not None:
            last = f"#{s.last_run.id} " + state(s.last_run.state).markup
        table.add_row(s.id, s.job, definition, "\n".join(map(when, s.next)) or "-",
                      "\n".join(local) or "-", last)
    return table


def record_json(record: ScheduleRecord) -> dict[str, Any]:
    """The schedule as JSON-ready data; datetimes in ISO 8601 UTC (``next`` holds the
    coming fire times; ``tz`` is the schedule's own zone)."""

    def plain(value: Any) -> Any:
        if isinstance(value, datetime):
            return iso(value)
        if isinstance(value, list):
            return [plain(v) for v in value]
        if hasattr(value, "__dataclass_fields__"):
            return {k: plain(getattr(value, k)) for k in value.__dataclass_fields__}
        return value

    result: dict[str, Any] = plain(record)
    result.pop("next_local", None)  # the same instants as ``next``, in the local zone
    return result


@click.command()
@click.argument("action", metavar="[sync]", required=False, type=click.Choice(["sync"]))
@click.option("--pause", "to_pause", metavar="ID", multiple=True,
              help="Pause this schedule (repeatable): no more occurrences are stored.")
@click.option("--resume", "to_resume", metavar="ID", multiple=True,
              help="Resume this schedule (repeatable).")
@click.option("--remove", "to_remove", metavar="ID", multiple=True,
              help="Delete this schedule and its next occurrence (repeatable).")
@click.option("--json", "as_json", is_flag=True, help="Print JSON lines instead of a table.")
@app_options(read_only=lambda options: options["action"] != "sync")
def schedules(app: Conveyor, action: str | None, to_pause: tuple[str, ...],
              to_resume: tuple[str, ...], to_remove: tuple[str, ...], as_json: bool) -> None:
    """List, pause, resume or remove recurring schedules. The list shows each one's
    definition, next fire times (UTC and the schedule's own zone), last run and its state;
    --pause/--resume/--remove act on schedules by id.

    `conveyor schedules sync` saves the schedules declared in the app's code to the store
    now (creating it if needed), as every worker does when it starts."""
    if action == "sync":
        saved = app.sync_schedules()
        click.echo(f"saved {plural(len(saved), 'schedule')} declared in code"
                   + (f": {', '.join(saved)}" if saved else ""))
        return
    actions = [(to_pause, app.pause_schedule, "paused"),
               (to_resume, app.resume_schedule, "resumed"),
               (to_remove, app.remove_schedule, "removed")]
    if any(ids for ids, _, _ in actions):
        missing = False
        for ids, act, done in actions:
            for schedule_id in ids:
                if act(schedule_id):
                    click.echo(f"{done} {schedule_id}")
                else:
                    click.echo(f"error: no schedule with id {schedule_id!r}", err=True)
                    missing = True
        if missing:
            raise SystemExit(USER_ERROR)
        return
    records = app.schedules()
    if as_json:
        for record in records:
            click.echo(json.dumps(record_json(record)))
    elif records:
        console().print(schedules_table(records))
    else:
        click.echo("no schedules")


commands = [schedules]
