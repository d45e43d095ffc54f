"""Helpers shared by the test folders (import as ``tests.support``)."""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, NoReturn

import pytest

ROOT = Path(__file__).resolve().parents[1]


def fail_in_ci_else_skip(ci_message: str, local_message: str) -> NoReturn:
    """A missing service FAILS the test when ``CI`` is set; elsewhere it skips it."""
    if os.environ.get("CI"):
        pytest.fail(ci_message)
    pytest.skip(local_message)


def wait_for(
    predicate: Callable[[], Any],
    timeout: float = 10.0,
    what: str = "condition",
    *,
    details: Callable[[], str] | None = None,
    interval: float = 0.005,
) -> Any:
    """Poll ``predicate`` until it returns something truthy (or fail after ``timeout``,
    adding ``details()`` to the message)."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            message = f"timed out after {timeout} s waiting for {what}"
            pytest.fail(f"{message}\n{details()}" if details else message)
        time.sleep(interval)


def store_url(
    kind: str, request: pytest.FixtureRequest, folder: object, filename: str = "conveyor.db"
) -> str:
    """The URL of an empty store of ``kind`` (memory, sqlite or postgres)."""
    if kind == "memory":
        return "memory://"
    if kind == "sqlite":
        return f"sqlite:///{folder}/{filename}"
    return str(request.getfixturevalue("pg_url"))
