"""Fixtures of the second blind pass over SPEC §6, §7 and §9: every test runs on SQLite (a
temporary file) and PostgreSQL (a schema of its own); ``app``, ``open_app`` and ``url``
come from tests/acceptance/conftest.py, ``cli_app`` from the first blind pass."""

from __future__ import annotations

from tests.acceptance.blind_surface.conftest import cli_app

__all__ = ["cli_app"]
