"""The shipped conformance suite (conveyor.testing.conformance) on every store: the
fixtures ``app`` and ``new_app`` come from tests/conftest.py."""

from conveyor.testing.conformance import *  # noqa: F403
