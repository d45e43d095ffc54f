"""Fixtures of the fourth blind pass: the first pass's ``make`` / ``app`` / ``clock`` /
``capp``, so that every test runs on the memory, SQLite and PostgreSQL stores."""

from tests.acceptance.blind_core.conftest import app, capp, clock, make

__all__ = ["app", "capp", "clock", "make"]
