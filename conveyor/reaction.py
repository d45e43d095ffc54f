"""Reaction-style workers: the handle :meth:`conveyor.Conveyor.add_worker` returns."""

from __future__ import annotations

from typing import Any, Protocol

from conveyor.errors import ConfigurationError


class Definition(Protocol):
    """A job definition as a handle reads it."""

    id: str


class Pausing(Protocol):
    """Pausing jobs (the app's flow control, :class:`conveyor.flow.FlowControl`)."""

    def pause(self, queue: str | None = None, job: str | None = None) -> None: ...

    def resume(self, queue: str | None = None, job: str | None = None) -> None: ...

    def paused_jobs(self) -> list[str]: ...


class WorkerHandle:
    """``app.add_worker(type=..., worker=fn)``'s result: ``pause()`` stops workers from
    starting jobs of this type (running ones finish; kept across restarts),
    ``resume()`` lets them start again, ``stop()`` pauses for good (``resume()`` is then
    refused; ``app.add_worker`` for the type again registers a new function and resumes).
    Other attributes are the job definition's (``id``, ``fn``, ``kind``...)."""

    def __init__(self, flow: Pausing, definition: Definition, stopped: set[str]) -> None:
        self._flow = flow
        self.definition = definition
        self.type = definition.id
        self.stopped = False
        self._stopped_types = stopped  # the app's: add_worker may take a stopped type over

    def pause(self) -> None:
        """Start no more jobs of this type, on any worker, until :meth:`resume`."""
        self._flow.pause(job=self.type)

    def resume(self) -> None:
        """Start jobs of this type again."""
        if self.stopped:
            raise ConfigurationError(
                f"the worker for {self.type!r} was stopped; call app.add_worker(...) again"
            )
        self._flow.resume(job=self.type)

    def stop(self) -> None:
        """Start no more jobs of this type (running ones finish); final for this
        handle: ``app.add_worker`` for the type again takes it over."""
        self._flow.pause(job=self.type)
        self.stopped = True
        self._stopped_types.add(self.type)

    @property
    def paused(self) -> bool:
        """Whether jobs of this type are paused."""
        return self.type in self._flow.paused_jobs()

    def __getattr__(self, name: str) -> Any:
        return getattr(self.definition, name)

    def __repr__(self) -> str:
        return f"<worker {self.type!r}{' stopped' if self.stopped else ''}>"
