"""Fixtures of the second blind pass over SPEC §1-4 and §8: the first pass's own
(``make``, ``app``, ``clock``, ``capp``), so every test runs on the memory, SQLite and
PostgreSQL stores."""

from tests.acceptance.blind_core.conftest import app, capp, clock, make

__all__ = ["app", "capp", "clock", "make"]
