"""``conveyor pause``, ``conveyor resume`` and ``conveyor queues``: flow control."""

from __future__ import annotations

import dataclasses
import json

import click
from rich.table import Table

from conveyor.app import Conveyor
from conveyor.cli.base import app_options, fail, job_id_of
from conveyor.cli.render import console
from conveyor.flow import QueueInfo

STATE_ORDER = ("scheduled", "queued", "blocked", "paused", "running", "waiting", "completed",
               "failed", "cancelled")


def _targets(verb: str) -> click.Command:
    @click.command(verb)
    @click.option("--queue", default=None, metavar="QUEUE", help=f"{verb.title()} this queue.")
    @click.option("--job", "job_id", default=None, metavar="JOB",
                  help=f"{verb.title()} this job (its id or slug).")
    @app_options()
    def command(app: Conveyor, queue: str | None, job_id: str | None) -> None:
        if queue is None and job_id is None:
            fail(f"give --queue QUEUE or --job JOB to {verb}")
        job_id = None if job_id is None else job_id_of(app, job_id)
        (app.pause if verb == "pause" else app.resume)(queue=queue, job=job_id)
        done = "paused" if verb == "pause" else "resumed"
        for kind, name in (("queue", queue), ("job", job_id)):
            if name is not None:
                click.echo(f"{done} {kind} {name}")

    command.help = (
        "Stop every worker from claiming a queue's or job's runs. Running ones finish; "
        "it lasts until `conveyor resume`." if verb == "pause"
        else "Let workers claim a paused queue's or job's runs again."
    )
    return command


def queues_table(infos: list[QueueInfo], held: dict[str, int]) -> Table:
    table = Table(box=None, header_style="bold", pad_edge=False)
    for column in ("QUEUE", "STATUS", "CONCURRENCY", "RATE", "RUNS"):
        table.add_column(column, overflow="fold")
    for q in infos:
        counts = {**q.counts, "paused": held.get(q.name, 0)}
        runs = ", ".join(f"{counts[s]} {s}" for s in STATE_ORDER if counts.get(s))
        table.add_row(q.name, "[yellow]paused[/yellow]" if q.paused else "active",
                      str(q.concurrency or "-"), q.rate or "-", runs or "-")
    return table


@click.command()
@click.option("--json", "as_json", is_flag=True, help="Print JSON lines instead of a table.")
@app_options(read_only=True)
def queues(app: Conveyor, as_json: bool) -> None:
    """List queues: paused or active, limits, runs by state. Read-only; "paused" counts
    the queued runs a pause holds back."""
    infos, held = app.queues(), app.paused_counts()
    if as_json:
        for info in infos:
            click.echo(json.dumps({**dataclasses.asdict(info),
                                   "paused_runs": held.get(info.name, 0)}))
    elif infos:
        console().print(queues_table(infos, held))
    else:
        click.echo("no queues")


commands = [_targets("pause"), _targets("resume"), queues]
