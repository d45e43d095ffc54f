"""How a failed attempt is recorded: the error's type (its class name, and module unless
built in), message and the user's traceback."""

from __future__ import annotations

import json
import os
import traceback

from conveyor.text import MAX_ERROR_MESSAGE, MAX_TRACEBACK, clean
from conveyor.worker.meta import JobFailure


def error_json(exc: BaseException, message: str | None = None) -> str:
    kind = type(exc)
    try:
        name, module = str(kind.__name__), kind.__module__
    except Exception:  # a class whose name is a broken property must not leave it running
        name, module = "<exception whose class name failed>", None
    module = None if module == "builtins" else module
    if message is None:
        try:
            message = str(exc)
        except Exception:  # a broken __str__ must not leave the job running
            message = "<exception str() failed>"
    trace: str | None = None
    if not isinstance(exc, JobFailure):
        try:
            trace = user_traceback(exc)
        except Exception:  # a broken __str__ or frame must not leave the job running
            trace = f"{name}: <traceback could not be formatted>"
    error = {  # sanitised, so every store can hold it (jsonb refuses \u0000)
        "type": clean(name, 200),
        "message": clean(message, MAX_ERROR_MESSAGE),
        "traceback": None if trace is None else clean(trace, MAX_TRACEBACK, keep_end=True),
    }
    if module is not None:  # the class's module, as Celery's exc_module
        error["module"] = clean(module, 200)
    return json.dumps(error)


_PACKAGE = os.path.dirname(os.path.dirname(os.path.abspath(__file__))) + os.sep
# The shipped conformance tests are users' code as far as tracebacks go.
_SUITE = os.path.join(_PACKAGE, "testing", "conformance") + os.sep


def user_traceback(exc: BaseException) -> str:
    """The traceback without conveyor's own frames (the worker calling the job), unless
    the error arose inside conveyor itself; files under the worker's current directory
    are shown relative to it (``File "myproject/tasks.py"``)."""
    frames = traceback.extract_tb(exc.__traceback__)
    shown = [f for f in frames
             if not f.filename.startswith(_PACKAGE) or f.filename.startswith(_SUITE)]
    chained = exc.__cause__ is not None or (
        exc.__context__ is not None and not exc.__suppress_context__)
    if chained or not shown:
        return "".join(traceback.format_exception(exc))
    here = os.getcwd() + os.sep
    for frame in shown:
        if frame.filename.startswith(here):
            frame.filename = frame.filename[len(here):]
    lines = ["Traceback (most recent call last):\n", *traceback.format_list(shown),
             *traceback.format_exception_only(exc)]
    return "".join(lines)


__all__ = ["error_json", "user_traceback"]
