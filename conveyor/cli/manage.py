"""``conveyor cancel``, ``retry``, ``purge`` and ``migrate``: verbs that change the store."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

import click

from conveyor.app import Conveyor
from conveyor.cli.base import RUN_ID, USER_ERROR, app_options, fail, job_id_of
from conveyor.clock import epoch
from conveyor.errors import ConfigurationError
from conveyor.stores.base import FINISHED
from conveyor.timeunits import parse_duration

ids_argument = click.argument("ids", metavar="ID...", nargs=-1, required=True, type=RUN_ID)


def act_on_each(app: Conveyor, ids: tuple[int, ...], act: Callable[[list[int]], set[int]],
                done: str, accepted: str,
                why: Callable[[int], str | None] = lambda job_id: None) -> None:
    """Apply ``act`` to the ids (it returns those it acted on), then one line per id
    (the ids not acted on are read to say why); exit 2 if any could not be acted on."""
    failed = False
    acted = act(list(ids))
    for job_id in ids:
        if job_id in acted:
            acted.discard(job_id)  # an id given again was not acted on again
            click.echo(f"{done} {job_id}")
            continue
        record = app.get_job(job_id)
        refusal = why(job_id) if record is not None else None
        if record is None:
            click.echo(f"error: no job with id {job_id}", err=True)
            failed = True
        elif refusal:
            click.echo(f"error: {refusal}", err=True)
            failed = True
        else:
            click.echo(f"error: job {job_id} is {record.state}; only {accepted} jobs can be "
                       f"{done}", err=True)
            failed = True
    if failed:
        raise SystemExit(USER_ERROR)


@click.command()
@ids_argument
@click.option("--cascade", is_flag=True,
              help="Also cancel the child runs each started (jobs that depend on a "
              "cancelled run are always cancelled).")
@app_options()
def cancel(app: Conveyor, ids: tuple[int, ...], cascade: bool) -> None:
    """Cancel runs that have not finished. A running one stops at its next heartbeat."""
    act_on_each(app, ids, lambda each: app.queries.cancel_many(each, cascade), "cancelled",
                "scheduled, queued, blocked, running or waiting")


@click.command()
@ids_argument
@app_options()
def retry(app: Conveyor, ids: tuple[int, ...]) -> None:
    """Run finished runs again now."""
    act_on_each(app, ids, app.queries.retry_many, "retried", "completed, failed or cancelled",
                app.queries.retry_refusal)


@click.command()
@click.option("--state", type=click.Choice(FINISHED), multiple=True,
              help="Only runs in this state (repeatable); default every finished state.")
@click.option("--job", "job_id", default=None, help="Only runs of this job.")
@click.option("--older-than", metavar="DURATION", default=None,
              help='Only runs created longer ago than this, e.g. "7 days".')
@click.option("--expired", is_flag=True, help="Runs past their retention (what workers purge).")
@click.option("--all", "everything", is_flag=True,
              help="Every finished run (what no option means too).")
@app_options()
def purge(app: Conveyor, state: tuple[str, ...], job_id: str | None, older_than: str | None,
          expired: bool, everything: bool) -> None:
    """Delete finished runs (completed, failed, cancelled). Every one, as app.purge()
    does, unless options narrow it."""
    filtered = bool(state or job_id or older_than)
    if expired and (filtered or everything):
        fail("--expired purges by retention; do not combine it with other filters")
    if expired:
        count = app.purge(expired=True)
    else:
        until = None
        if older_than is not None:
            try:
                seconds = parse_duration(older_than) or 0.0
                until = datetime.fromtimestamp(epoch(app.clock) - seconds, UTC)
            except ConfigurationError as exc:
                fail(f"invalid --older-than {older_than!r}: {exc}")
            except (OverflowError, OSError, ValueError):
                fail(f"invalid --older-than {older_than!r}: too long ago (before year 1); "
                     'e.g. "30 days" or "2 years"')
        job = None if job_id is None else job_id_of(app, job_id)
        count = app.purge(state=list(state) or None, job=job, until=until)
    click.echo(f"purged {count} run{'s' if count != 1 else ''}")


@click.command()
@app_options(store_alone=True)
def migrate(app: Conveyor) -> None:
    """Create or upgrade the store's schema. That of the app's store, or of --url /
    $CONVEYOR_URL without an app."""
    applied = app.applied_migrations + app.migrate()
    for name in applied:
        click.echo(f"applied {name}")
    if not applied:
        click.echo("up to date")


commands = [cancel, retry, purge, migrate]
