"""``conveyor jobs``, ``conveyor runs`` and ``conveyor show``: read-only views."""

from __future__ import annotations

import dataclasses
import json
from typing import Any

import click

from conveyor.app import Conveyor
from conveyor.cli.base import RUN_ID, USER_ERROR, app_options, job_id_of
from conveyor.cli.render import (
    console,
    job_json,
    jobs_table,
    json_default,
    record_json,
    runs_table,
    show_record,
)


@click.command()
@click.option("--json", "as_json", is_flag=True, help="Print JSON lines instead of a table.")
@app_options(read_only=True)
def jobs(app: Conveyor, as_json: bool) -> None:
    """List the app's job definitions."""
    definitions = app.jobs.definitions()
    stored = {d.id: s for d in definitions
              if d.trigger is not None and (s := app.get_schedule(d.id)) is not None}
    paused = {job_id for job_id, s in stored.items() if s.paused}
    if as_json:
        for definition in definitions:
            click.echo(json.dumps(job_json(definition, stored.get(definition.id))))
    elif not definitions:
        click.echo("no jobs defined")
    else:
        console().print(jobs_table(definitions, paused))


def _names(value: str | None) -> list[str] | None:
    return [v.strip() for v in value.split(",") if v.strip()] if value else None


@click.command()
@click.option("--state", metavar="STATE[,STATE]", default=None,
              help="scheduled, queued, blocked, running, waiting, completed, failed, "
              "cancelled.")
@click.option("--job", "job_id", metavar="JOB[,JOB]", default=None, help="Only these jobs.")
@click.option("--queue", metavar="QUEUE[,QUEUE]", default=None, help="Only these queues.")
@click.option("--owner", default=None,
              help="Only runs of this owner (0 or system: runs of no owner).")
@click.option("--parent", type=RUN_ID, metavar="ID", default=None,
              help="Only child runs of this run.")
@click.option("--limit", type=click.IntRange(1, 1_000_000), metavar="N", default=20,
              show_default=True, help="How many runs to list.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON lines instead of a table.")
@app_options(read_only=True)
def runs(app: Conveyor, state: str | None, job_id: str | None, queue: str | None,
         owner: str | None, parent: int | None, limit: int, as_json: bool) -> None:
    """List stored runs, newest first."""
    filters: dict[str, Any] = {
        "state": _names(state), "job": [job_id_of(app, j) for j in _names(job_id) or []] or None,
        "queue": _names(queue), "parent": parent,
    }
    if owner is not None:  # 0 or "system": runs of no owner, as `run --owner 0` stores them
        filters["owner"] = None if owner.strip() in ("", "0", "system") else owner
    records = app.jobs_list(limit=limit, **filters)
    if as_json:
        for record in records:
            click.echo(json.dumps(record_json(record)))
    elif records:
        out = console()
        out.print(runs_table(records, out.width))
    else:
        click.echo("no runs match")


@click.command()
@click.argument("ids", metavar="ID...", nargs=-1, required=True, type=RUN_ID)
@click.option("--json", "as_json", is_flag=True, help="Print each run as one JSON line.")
@app_options(read_only=True)
def show(app: Conveyor, ids: tuple[int, ...], as_json: bool) -> None:
    """Show everything stored about runs. Fields, attempts with tracebacks, durable
    steps, logs."""
    out, missing = console(), False
    for number, job_id in enumerate(ids):
        record = app.get_job(job_id)
        if record is None:
            click.echo(f"error: no job with id {job_id}", err=True)
            missing = True
        elif as_json:
            data = record_json(record)
            data["steps"] = [json.loads(json.dumps(dataclasses.asdict(step),
                                                   default=json_default))
                             for step in app.steps(record.id)]
            click.echo(json.dumps(data))
        else:
            if number:
                out.print()
            show_record(out, record, app.steps(record.id))
    if missing:
        raise SystemExit(USER_ERROR)


commands = [jobs, runs, show]
