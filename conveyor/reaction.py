"""Reaction-style workers: the handle :meth:`conveyor.Conveyor.add_worker` returns."""

from __future__ import annotations

from typing import Any, Protocol

from conveyor.errors import ConfigurationError


class _Definition(Protocol):
    id: str


class WorkerHandle:
    """``app.add_worker(type=..., worker=fn)``'s result: ``pause()`` stops workers from
    starting jobs of this type (running ones finish; kept across restarts),
    ``resume()`` lets them start again, ``stop()`` pauses for good (``resume()`` is then
    refused). Other attributes are the job definition's (``id``, ``fn``, ``kind``...)."""

    def __init__(self, app: object, definition: _Definition) -> None:
        self._app = app
        self.definition = definition
        self.type = definition.id
        self.stopped = False

    def pause(self) -> None:
        """Start no more jobs of this type, on any worker, until :meth:`resume`."""
        self._call("pause")

    def resume(self) -> None:
        """Start jobs of this type again."""
        if self.stopped:
            raise ConfigurationError(
                f"the worker for {self.type!r} was stopped; call app.add_worker(...) again"
            )
        self._call("resume")

    def stop(self) -> None:
        """Start no more jobs of this type (running ones finish); final."""
        self._call("pause")
        self.stopped = True

    @property
    def paused(self) -> bool:
        """Whether jobs of this type are paused."""
        listed = getattr(self._app, "paused_jobs", None)
        return bool(listed is not None and self.type in listed())

    def _call(self, verb: str) -> None:
        method = getattr(self._app, verb, None)
        if method is None:  # pragma: no cover - flow control ships with the app
            raise ConfigurationError(f"{verb} is not available in this build")
        method(job=self.type)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.definition, name)

    def __repr__(self) -> str:
        return f"<worker {self.type!r}{' stopped' if self.stopped else ''}>"
