"""Fixtures of the third blind pass (SPEC's own snippets, taken literally and varied):
the first pass's ``make`` / ``app`` / ``clock`` / ``capp``, so every test runs on the
memory, SQLite (a temporary file) and PostgreSQL (a schema of its own) stores."""

from tests.acceptance.blind_core.conftest import app, capp, clock, make

__all__ = ["app", "capp", "clock", "make"]
