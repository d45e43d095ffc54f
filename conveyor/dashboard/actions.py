"""State-changing actions shared by the pages and the API, with clear input errors."""

from __future__ import annotations

import json
from collections.abc import Callable, Collection
from typing import TYPE_CHECKING, Any

from conveyor.errors import ConfigurationError, ConveyorError, StoreError
from conveyor.jobs import JobDefinition
from conveyor.queries.arguments import decimal_int

if TYPE_CHECKING:
    from conveyor.app import Conveyor

MISSING: Any = object()
MAX_JSON = 1_000_000  # characters of JSON accepted in one field
MAX_DEPTH = 100  # nesting levels accepted in JSON input
MAX_NAME = 1000  # bytes (UTF-8) of a name or id, well below PostgreSQL's index limit


class BadInput(Exception):
    """Input a user can correct; ``message`` says what was wrong and what is accepted."""

    def __init__(self, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.message = message
        self.status = status


def parse_json_field(name: str, text: str | None) -> Any:
    """The JSON in a form field; MISSING if it is empty."""
    if text is None or not text.strip():
        return MISSING
    if len(text) > MAX_JSON:
        raise BadInput(f"{name} is too long (at most {MAX_JSON:,} characters)")
    return load_json(text, name, f"; example: {_EXAMPLES[name]}")


def load_json(
    text: str | bytes, what: str, hint: str = "", sanitised: Collection[str] = ()
) -> Any:
    """Parse JSON input, refusing what no store could hold: invalid UTF-8 or JSON,
    nesting deeper than :data:`MAX_DEPTH`, NUL characters and lone surrogates; but for
    the ``sanitised`` fields of an object (text conveyor makes storable itself)."""
    try:
        value = json.loads(text)
    except RecursionError:
        raise BadInput(f"{what} is nested too deeply (at most {MAX_DEPTH} levels)") from None
    except ValueError as exc:
        raise BadInput(f"{what} is not valid JSON ({_short(str(exc))}){hint}") from None
    checked = {k: v for k, v in value.items() if k not in sanitised} if (
        sanitised and isinstance(value, dict)) else value
    problem = json_problem(checked)
    if problem:
        raise BadInput(f"{what}{problem}")
    return value


def json_problem(value: Any) -> str | None:
    """Where parsed JSON holds something no store accepts (``'["a"][3]: ...'``), or None."""
    stack: list[tuple[Any, str, int]] = [(value, "", 0)]
    while stack:
        item, path, depth = stack.pop()
        if depth > MAX_DEPTH:
            return f"{path} is nested too deeply (at most {MAX_DEPTH} levels)"
        if isinstance(item, str):
            bad = text_problem(item)
            if bad:
                return f"{path}: {bad}"
        elif isinstance(item, dict):
            for key, child in item.items():
                bad = text_problem(key)
                if bad:
                    return f"{path}: a key {bad}"
                stack.append((child, f"{path}[{json.dumps(key)}]", depth + 1))
        elif isinstance(item, list):
            stack.extend((child, f"{path}[{i}]", depth + 1) for i, child in enumerate(item))
    return None


def text_problem(text: str) -> str | None:
    """Why ``text`` cannot be stored (NUL, lone surrogates), or None."""
    if "\x00" in text:
        return "contains a NUL character (\\u0000), which is not accepted"
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return "contains a lone surrogate (\\ud800-\\udfff), which is not valid text"
    return None


def check_name(what: str, value: str) -> str:
    """``value`` if it can be stored and indexed as a name or id; else BadInput."""
    problem = text_problem(value)
    if problem:
        raise BadInput(f"{what} {problem}")
    if len(value.encode("utf-8")) > MAX_NAME:
        raise BadInput(f"{what} is too long (at most {MAX_NAME} bytes)")
    return value


def _short(text: str, limit: int = 200) -> str:
    return text if len(text) <= limit else text[:limit] + "…"


_EXAMPLES = {
    "payload": '{"url": "https://example.com"}',
    "args": '[1, "two"]',
    "kwargs": '{"name": "value"}',
}


def call_arguments(
    payload: Any = MISSING, args: Any = MISSING, kwargs: Any = MISSING
) -> tuple[list[Any], dict[str, Any]]:
    """Positional and keyword arguments as the CLI builds them: ``payload`` is the single
    positional argument, ``args`` a list of them, ``kwargs`` an object of keywords."""
    if payload is not MISSING and args is not MISSING:
        raise BadInput("give either payload (one argument) or args (a list), not both")
    positional: list[Any] = []
    if payload is not MISSING:
        positional = [payload]
    elif args is not MISSING and args is not None:
        if not isinstance(args, list):
            raise BadInput(f"args must be a JSON list like {_EXAMPLES['args']}")
        positional = args
    keywords: dict[str, Any] = {}
    if kwargs is not MISSING and kwargs is not None:
        if not isinstance(kwargs, dict):
            raise BadInput(f"kwargs must be a JSON object like {_EXAMPLES['kwargs']}")
        keywords = kwargs
    return positional, keywords


def find_definition(app: Conveyor, slug_or_id: str) -> JobDefinition:
    found = app.definition_by_slug_or_id(slug_or_id)
    if found is None:
        raise BadInput(f"no job {_short(slug_or_id, 100)!r} is defined", status=404)
    return found


def run_now(app: Conveyor, definition: JobDefinition, args: list[Any],
            kwargs: dict[str, Any]) -> int:
    """Store a run of ``definition`` now; returns its id."""
    try:
        return definition(*args, **kwargs).run_now().id
    except StoreError:  # not the input: a 503 (conveyor.dashboard.unavailable)
        raise
    except ConveyorError as exc:  # PayloadError, ConfigurationError: the user's input
        raise BadInput(str(exc)) from None


def rerun(app: Conveyor, run_id: int) -> int:
    """Run a stored run's job again with the same arguments, as a new run."""
    record = app.get_job(run_id)
    if record is None:
        raise BadInput(f"no run {run_id}", status=404)
    definition = app.definition(record.job)
    if definition is None:
        raise BadInput(f"job {record.job!r} is not defined in this app", status=409)
    return run_now(app, definition, list(record.args), dict(record.kwargs))


def cancel(app: Conveyor, run_id: int) -> None:
    _act(app, run_id, app.cancel, "has already finished; only unfinished runs can be cancelled")


def cancel_cascade(app: Conveyor, run_id: int) -> None:
    _act(app, run_id, lambda i: app.cancel(i, cascade=True),
         "has already finished and so have its child runs")


def retry(app: Conveyor, run_id: int) -> None:
    try:
        _act(app, run_id, app.retry,
             "has not finished; only completed, failed or cancelled runs can be retried")
    except ConfigurationError as exc:  # its dependency failed: retry that one first
        raise BadInput(str(exc), status=409) from None


def _act(app: Conveyor, run_id: int, action: Callable[[int], bool], refusal: str) -> None:
    if app.get_job(run_id) is None:
        raise BadInput(f"no run {run_id}", status=404)
    if not action(run_id):
        raise BadInput(f"run {run_id} {refusal}", status=409)


def set_paused(app: Conveyor, schedule_id: str, paused: bool) -> None:
    action = app.pause_schedule if paused else app.resume_schedule
    check_name("schedule id", schedule_id)
    try:
        done = action(schedule_id)
    except StoreError:
        raise
    except (KeyError, LookupError, ConveyorError) as exc:
        raise BadInput(str(exc).strip("'\"") or f"no schedule {schedule_id!r}", 404) from None
    if done is False:
        raise BadInput(f"no schedule {schedule_id!r}", status=404)


def send_event(app: Conveyor, name: Any, payload: Any, event_id: Any = None) -> Any:
    """Send an event as ``app.send_event`` does: the name is sanitised there (NUL and lone
    surrogates become U+FFFD, an over-long one is cut), never refused; the id and payload
    follow their rules (refused with BadInput)."""
    if not isinstance(name, str) or not name.strip():
        raise BadInput('name must be a non-empty string like "user.created"')
    if event_id is not None and not isinstance(event_id, str):
        raise BadInput("id must be a string (or omitted)")
    if event_id is not None:
        check_name("id", event_id)
    problem = json_problem(payload)
    if problem:
        raise BadInput(f"payload{problem}")
    try:
        return app.send_event(name, payload, id=event_id)
    except StoreError:
        raise
    except ConveyorError as exc:
        raise BadInput(str(exc)) from None


def parse_run_id(text: str) -> int:
    value = decimal_int(text)
    if value is None:
        raise BadInput(f"run id must be an integer, not {_short(text, 40)!r}", status=404)
    if not 0 < value < 2**63:
        raise BadInput(f"no run {_short(text, 40)}", status=404)
    return value
