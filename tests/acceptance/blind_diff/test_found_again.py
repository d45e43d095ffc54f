"""Regressions of the differential pass's fixes, each run on the memory, SQLite and
PostgreSQL stores and checked against what SPEC says."""

from __future__ import annotations

from typing import Any

from conveyor import chain
from conveyor.testing import run_until_idle
from tests.acceptance.blind_diff.conftest import Trio


def test_a_chain_member_keeps_the_payload_it_was_given(trio: Trio) -> None:
    """SPEC §4: the payload is the single positional argument a job was called with, else
    its keyword arguments, and ``data=`` matches it. A chain member called with its own
    arguments gets the previous result put first when it is due: its payload read as
    the new arguments (``then(5)`` read ``{}``, ``then(tag=...)`` the previous result),
    while ``data=5`` still found it."""
    for app in trio.open():

        @app.job
        def first(x: int) -> int:
            return x + 1

        @app.job
        def then(prev: int, extra: Any = None, **kwargs: Any) -> int:
            return prev

        chain(first(1), then(5)).run_now()
        chain(first(1), then(tag={"k": 9, "a": 1e300})).run_now()
        chain(first(1), then()).run_now()
        run_until_idle(app)
        found = [r.payload for r in app.jobs_list(job="then", newest_first=False)]
        assert repr(found) == repr([5, {"tag": {"k": 9, "a": 1e300}}, 2])
        assert [r.payload for r in app.jobs_list(data=5)] == [5]
        assert [r.args for r in app.jobs_list(data={"tag": {"k": 9}})] == [[2]]


def test_text_search_finds_non_ascii_words_in_error_messages(trio: Trio) -> None:
    """SPEC §7 runs filtered by text: an error's message is stored with ``\\u`` escapes
    for non-ASCII letters; SQLite's search for "Échec" looked for the escapes of "échec"
    (the search text lowered before it was escaped) and found nothing where PostgreSQL
    finds the failed run."""
    for app in trio.open():

        @app.job
        def fails() -> None:
            raise ValueError("Échec d'envoi")

        fails().run_now()
        run_until_idle(app)
        assert [app.count(text=t) for t in ("Échec", "ÉCHEC", "Échec d'", "chec")] == [1] * 4
