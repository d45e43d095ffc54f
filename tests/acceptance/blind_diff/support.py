"""Helpers of the differential pass: hostile-but-valid inputs, and what a store reads
back written so that two stores agree exactly when they read back the same (types,
float signs, key order and times included; run ids as their rank among the ids listed)."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any

from hypothesis import strategies as st

from conveyor import Conveyor
from conveyor.records import JobRecord

#: Start of the shared clock: the night Europe switches to summer time.
T0 = datetime(2031, 3, 30, 0, 30, tzinfo=UTC)

TEXT = st.text(st.characters(exclude_categories=("Cs",), exclude_characters="\x00"),
               max_size=6) | st.sampled_from(["É", "é", "ß", "50%_", "\\", "😀", "\u2028", " "])
NUMBERS = st.one_of(
    st.integers(-(2**70), 2**70), st.floats(allow_nan=False, allow_infinity=False),
    st.sampled_from([0, -0.0, 0.0, 1, 1.0, True, False, 2**53 + 1, 1e300, 5e-324]))
JSON = st.recursive(st.none() | NUMBERS | TEXT, lambda inner: st.one_of(
    st.lists(inner, max_size=3), st.dictionaries(TEXT, inner, max_size=3)), max_leaves=6)
NAMES = st.sampled_from(["default", "q", "Q", "é", "É", "a b", "😀", "50%_", "limited"])
OWNERS = st.sampled_from([None, 0, 1, -1, 2**63 - 1, "u", "U", "1", "é", "É"])
KEYS = st.sampled_from([None, "", "k", "K", "é", "É", "k%", "k_"])
PRIORITIES = st.one_of(st.sampled_from(["low", "normal", "medium", "high", "critical"]),
                       st.integers(-(2**31), 2**31 - 1), st.sampled_from([-1, 0, 1, 10]))


_RUN = re.compile(r"\brun (\d+)")  # a run id in an error message
_IDS = re.compile(r"\b(run|id) \d+")


def typed(value: Any) -> str:
    """``value`` as text that tells 1, 1.0 and True (and 0.0 and -0.0) apart."""
    return repr(value)


def listing(app: Conveyor) -> list[JobRecord]:
    return app.jobs_list(newest_first=False)


def ranks(records: list[JobRecord]) -> dict[int, int]:
    return {r.id: n for n, r in enumerate(sorted(records, key=lambda r: r.id))}


def shown(record: JobRecord, rank: dict[int, int]) -> str:
    """What a record reads back, run ids written as ranks (``gone`` when not listed)."""
    error = record.error or {}
    return typed((
        rank[record.id], record.job, record.args, record.kwargs, record.payload,
        record.state, int(record.priority), record.queue, record.key, record.owner,
        record.attempts, record.max_attempts, record.run_at, record.created_at,
        record.started_at, record.finished_at, record.result, error.get("type"),
        _cause(error, rank),
        record.progress, record.version,
        rank.get(record.rescheduled_from or -1, record.rescheduled_from and "gone"),
        [(a.number, a.started_at, a.finished_at, (a.error or {}).get("type"))
         for a in record.history],
        [(line.level, line.message, line.attempt) for line in record.logs],
    ))


def _cause(error: dict[str, Any], rank: dict[int, int]) -> str:
    """An error message, run ids as ranks. Which run a job cancelled further down the
    graph names, when one cancel_jobs() matched several runs of one graph, differs: SQLite
    names the first matched upstream, PostgreSQL the nearest (left as it is)."""
    if error.get("type") == "DependencyFailed":
        return "DependencyFailed"
    return _RUN.sub(lambda m: f"run #{rank.get(int(m[1]), 'gone')}", error.get("message") or "")


def snapshot(app: Conveyor) -> list[str]:
    records = listing(app)
    rank = ranks(records)
    return [shown(r, rank) for r in records]


def outcome(call: Any) -> Any:
    """What ``call()`` gives, or its error's type and message."""
    try:
        return ("ok", call())
    except AssertionError:
        raise  # a check of the test's own, not an answer of the store
    except Exception as exc:  # compared across stores, not judged here
        # (run ids differ from store to store: a PostgreSQL schema reused keeps its sequence)
        return ("error", type(exc).__name__, _IDS.sub(r"\1 #", str(exc)))
