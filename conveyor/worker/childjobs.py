"""``meta.jobs`` in the child process of an attempt with ``isolation="process"``.

The child has no store of its own: ``meta.jobs.x(...).run_now()`` (``run_in``, ``run_at``,
with the usual options) sends the trigger to the worker through the attempt's pipe; the
worker stores it as ``meta.jobs`` does for any job and answers with the new run's id, or
with the error, which the child raises.
"""

from __future__ import annotations

from collections.abc import Callable, Generator
from typing import Any

from conveyor import errors

Call = Callable[[tuple[Any, ...]], Any]  # sends a request, returns the worker's answer


class ChildJobs:
    """``meta.jobs`` in the child: ``meta.jobs.send_email(...)``, ``meta.jobs["x"](...)``."""

    def __init__(self, call: Call) -> None:
        self._call = call

    def __getattr__(self, name: str) -> ChildJob:
        if name.startswith("__"):
            raise AttributeError(name)
        return ChildJob(name, self._call)

    def __getitem__(self, name: str) -> ChildJob:
        return ChildJob(name, self._call)


class ChildJob:
    def __init__(self, name: str, call: Call) -> None:
        self._name, self._call = name, call

    def __call__(self, *args: Any, **kwargs: Any) -> ChildCall:
        return ChildCall(self._name, args, kwargs, self._call)


class ChildCall:
    """A call of another job, stored by the worker when triggered."""

    def __init__(self, name: str, args: tuple[Any, ...], kwargs: dict[str, Any],
                 call: Call) -> None:
        self._request = (name, args, kwargs)
        self._call = call

    def run_now(self, **options: Any) -> ChildHandle:
        return self._trigger("run_now", (), options)

    def run_in(self, n: float, unit: str = "seconds", **options: Any) -> ChildHandle:
        return self._trigger("run_in", (n, unit), options)

    def run_at(self, when: Any, **options: Any) -> ChildHandle:
        return self._trigger("run_at", (when,), options)

    def _trigger(self, how: str, when: tuple[Any, ...], options: dict[str, Any]
                 ) -> ChildHandle:
        return ChildHandle(self._call(("trigger", *self._request, how, when, options)))


class ChildHandle:
    """The stored run's id (awaitable, as a ``JobHandle`` is, in async jobs)."""

    def __init__(self, job_id: int) -> None:
        self.id = job_id

    def __await__(self) -> Generator[Any, None, ChildHandle]:
        return self._self().__await__()

    async def _self(self) -> ChildHandle:
        return self

    def __repr__(self) -> str:
        return f"<JobHandle {self.id}>"


def serve(jobs: Any, request: tuple[Any, ...]) -> tuple[Any, ...]:
    """In the worker: store the trigger a child asked for; ("ok", id) or ("error", ...)."""
    try:
        _, name, args, kwargs, how, when, options = request
        job = jobs.definition_named(name) or jobs[name]  # as meta.jobs.<name> finds it
        handle = getattr(job(*args, **kwargs), how)(*when, **options)
        return ("ok", handle.id)
    except Exception as exc:  # the child raises it
        return ("error", type(exc).__name__, str(exc))


def answer(reply: tuple[Any, ...]) -> Any:
    """In the child: the id the worker sent back, or its error raised."""
    if reply[0] == "ok":
        return reply[1]
    _, kind, message = reply
    found = getattr(errors, kind, None)
    if isinstance(found, type) and issubclass(found, errors.ConveyorError):
        raise found(message)
    if kind in ("TypeError", "ValueError", "KeyError", "LookupError"):
        raise {"TypeError": TypeError, "ValueError": ValueError, "KeyError": KeyError,
               "LookupError": LookupError}[kind](message)
    raise RuntimeError(f"{kind}: {message}")
