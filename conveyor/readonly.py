"""How apps built by a command open their store: read-only, and on the ``--url`` store.

Read-only opening: apps built while :func:`read_only` is active write nothing.

The command line's read-only verbs (``conveyor jobs``, ``runs``, ``show``,
``schedules``, ``queues``, the dashboard) import the user's app inside
``read_only()``. An app constructed there neither creates nor migrates its store (no
SQLite file, no PostgreSQL schema or table) and does not save the schedules declared in
code; a store that does not exist yet is opened as a missing one, whose every use says
so in one line (:class:`conveyor.errors.StoreMissing`).

The ``--url`` store: apps built by URL while :func:`store_url` is active open that URL
instead of their own, which is never opened (it may not exist here, or be unreachable).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

_ACTIVE: ContextVar[bool] = ContextVar("conveyor_read_only", default=False)
_URL: ContextVar[str | None] = ContextVar("conveyor_store_url", default=None)


@contextmanager
def read_only() -> Iterator[None]:
    """Apps constructed inside this block open their store read-only."""
    token = _ACTIVE.set(True)
    try:
        yield
    finally:
        _ACTIVE.reset(token)


def active() -> bool:
    """Whether apps constructed now open their store read-only."""
    return _ACTIVE.get()


@contextmanager
def store_url(url: str | None) -> Iterator[None]:
    """Apps constructed by URL inside this block open ``url`` (None: their own)."""
    token = _URL.set(url)
    try:
        yield
    finally:
        _URL.reset(token)


def overriding_url() -> str | None:
    """The URL apps constructed now open instead of their own, if any."""
    return _URL.get()
