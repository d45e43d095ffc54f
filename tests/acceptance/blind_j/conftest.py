"""Fixtures of the sixth blind pass (SPEC §1-4, 8, 9, 12): the first pass's ``make`` /
``app`` / ``clock`` / ``capp``, so that every test runs on the memory, SQLite and
PostgreSQL stores."""

from tests.acceptance.blind_core.conftest import app, capp, clock, make

__all__ = ["app", "capp", "clock", "make"]
