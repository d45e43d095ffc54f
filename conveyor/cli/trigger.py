"""``conveyor run JOB``: store a job now, in a while or at a time; prints its id."""

from __future__ import annotations

import contextlib
import json
import re
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

import click

from conveyor.app import Conveyor
from conveyor.cli.base import app_options, fail
from conveyor.errors import ConfigurationError
from conveyor.jobs import JobDefinition, JobHandle
from conveyor.timeunits import CALENDAR_UNITS, normalize_unit, parse_duration

_AMOUNT = re.compile(r"\s*(\d+(?:\.\d*)?|\.\d+)\s*([A-Za-z]+)\s*")
_IN_HELP = 'e.g. "30 seconds", "1.5 hours", "2 days", "1 month" or "1 day 2 hours"'


@click.command("run")
@click.argument("job_id", metavar="JOB")
@click.option("--payload", metavar="JSON", help="The job's single argument, as JSON.")
@click.option("--args", "args_json", metavar="JSON", help="Positional arguments: a JSON list.")
@click.option("--kwargs", "kwargs_json", metavar="JSON",
              help="Keyword arguments: a JSON object.")
@click.option("--in", "delay", metavar="TEXT", help=f"Run after a while, {_IN_HELP}.")
@click.option("--at", "at", metavar="ISO",
              help="Run at a date-time, e.g. 2027-01-01T09:30 (the app's timezone) or "
                   "2027-01-01T09:30:00+00:00.")
@click.option("--queue", default=None, help="Queue (default: the job's).")
@click.option("--priority", default=None,
              help="low, normal, medium, high, critical or an int (default: the job's).")
@click.option("--key", default=None, help="Dedupe key (with --replace or --unique).")
@click.option("--owner", default=None,
              help="Owner id: digits store an int id, other text a str (0 or empty: the "
                   "system).")
@click.option("--replace", is_flag=True,
              help="Cancel pending runs with the same --key first (or, with --all, every "
                   "pending run of JOB).")
@click.option("--unique", is_flag=True,
              help="Keep an existing pending run with the same --key instead (or, with "
                   "--all, any pending run of JOB).")
@click.option("--all", "match_all", is_flag=True,
              help="With --replace/--unique and no --key: match every pending run of JOB.")
@app_options()
def run(app: Conveyor, job_id: str, payload: str | None, args_json: str | None,
        kwargs_json: str | None, delay: str | None, at: str | None, queue: str | None,
        priority: str | None, key: str | None, owner: str | None, replace: bool,
        unique: bool, match_all: bool) -> None:
    """Store a run of JOB and print its id."""
    flag = "--replace" if replace else "--unique" if unique else None
    if flag and key is None and not match_all:
        fail(f"{flag} without --key would match every pending run of {job_id!r}; "
             f"give --key KEY, or add --all if that is what you mean")
    if match_all and key is not None:
        fail("give --key or --all, not both")
    if match_all and flag is None:
        fail("--all goes with --replace or --unique")
    if payload is not None and args_json is not None:
        fail("give --payload (the single argument) or --args (a list), not both")
    if delay is not None and at is not None:
        fail("give --in or --at, not both")
    # By id or URL slug; app.jobs[...] raises UnknownJobError listing the defined jobs.
    jobs = app.jobs
    definition = jobs.definition(job_id) or jobs.definition_by_slug(job_id) or jobs[job_id]
    args: list[Any] = [parse_json("--payload", payload)] if payload is not None else []
    if args_json is not None:
        args = parse_json("--args", args_json, list)
    kwargs: dict[str, Any] = parse_json("--kwargs", kwargs_json, dict) if kwargs_json else {}
    options = trigger_options(queue, priority, key, owner, replace, unique)
    handle = schedule(app, definition, args, kwargs, delay, at, options)
    click.echo(handle.id)


def parse_json(option: str, text: str | None, kind: type | None = None) -> Any:
    """Parse a JSON option; ``kind`` (list or dict) is the value it must be."""
    try:
        value = json.loads(text or "")
    except RecursionError:
        fail(f"invalid JSON in {option}: nested too deeply")
    except ValueError as exc:
        fail(f"invalid JSON in {option}: {exc}; e.g. {option} "
             + ("'[\"a.png\", 2]'" if kind is list else "'{\"path\": \"a.png\"}'"))
    if kind is not None and not isinstance(value, kind):
        wanted = "a JSON list" if kind is list else "a JSON object"
        fail(f"{option} must be {wanted}, got {type(value).__name__}")
    return value


def trigger_options(queue: str | None, priority: str | None, key: str | None,
                    owner: str | None, replace: bool, unique: bool) -> dict[str, Any]:
    options: dict[str, Any] = {"replace": replace, "unique": unique}
    if queue is not None:
        options["queue"] = queue
    if priority is not None:
        options["priority"] = _number(priority, r"-?\d+")
    if key is not None:
        options["key"] = key
    if owner is not None:
        options["owner"] = None if owner in ("", "0") else _number(owner, r"-?[1-9]\d*")
    return options


def _number(text: str, digits: str) -> int | str:
    """``text`` as an int when it is ``digits`` that Python reads as one (not past its
    limit of 4300 digits); otherwise as given, for the option's own check to judge."""
    if re.fullmatch(digits, text):
        with contextlib.suppress(ValueError):
            return int(text)
    return text


def schedule(app: Conveyor, definition: JobDefinition, args: list[Any], kwargs: dict[str, Any],
             delay: str | None, at: str | None, options: dict[str, Any]) -> JobHandle:
    call = definition(*args, **kwargs)
    if at is not None:
        return call.run_at(parse_at(at, app.timezone), **options)
    if delay is not None:
        amount, unit = parse_in(delay)
        return call.run_in(amount, unit, **options)
    return call.run_now(**options)


def parse_in(text: str) -> tuple[float, str]:
    """``"2 months"`` -> (2, "month"); ``"1 day 2 hours"`` -> (93600.0, "second")."""
    try:
        found = _AMOUNT.fullmatch(text)
        if found is not None:
            unit = normalize_unit(found.group(2))
            amount = float(found.group(1))
            return (int(amount) if unit in CALENDAR_UNITS and amount.is_integer()
                    else amount), unit
        seconds = parse_duration(text)
    except ConfigurationError as exc:
        fail(f"invalid --in {text!r}: {exc}")
    assert seconds is not None
    return seconds, "second"


def parse_at(text: str, timezone: str) -> datetime:
    try:
        value = datetime.fromisoformat(text.strip())
    except ValueError:
        fail(f"invalid --at {text!r}: accepted: an ISO 8601 date-time like 2027-01-01T09:30 "
             f"(in the app's timezone, {timezone}) or 2027-01-01T09:30:00+02:00")
    value = value if value.tzinfo else value.replace(tzinfo=ZoneInfo(timezone))
    try:
        value.astimezone(UTC)
    except (OverflowError, ValueError):
        fail(f"invalid --at {text!r}: outside the supported date range (years 1 to 9999 "
             "in UTC)")
    return value


commands = [run]
