"""Helpers shared by the test folders (import as ``tests.support``)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import NoReturn

import pytest

from conveyor.testing.conformance.helpers import wait_for  # noqa: F401  (re-exported)

ROOT = Path(__file__).resolve().parents[1]


def fail_in_ci_else_skip(ci_message: str, local_message: str) -> NoReturn:
    """A missing service FAILS the test when ``CI`` is set; elsewhere it skips it."""
    if os.environ.get("CI"):
        pytest.fail(ci_message)
    pytest.skip(local_message)


def store_url(
    kind: str, request: pytest.FixtureRequest, folder: object, filename: str = "conveyor.db"
) -> str:
    """The URL of an empty store of ``kind`` (memory, sqlite or postgres)."""
    if kind == "memory":
        return "memory://"
    if kind == "sqlite":
        return f"sqlite:///{folder}/{filename}"
    return str(request.getfixturevalue("pg_url"))
