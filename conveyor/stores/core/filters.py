"""Job rows and JobFilter conditions in SQL, for any dialect."""

from __future__ import annotations

import json
import re
from typing import Any

from conveyor.stores.base import LOST, JobFilter
from conveyor.stores.core.dialect import D
from conveyor.stores.matching import FILTER_COMPARISONS, like_pattern

# The payload is not searched: it is the arguments' JSON again (the single positional
# argument or the keyword arguments), and PostgreSQL's jsonb writes it with spaces
# (``{"a": 1}``) the arguments' text has not, so ``text=": 1"`` found jobs there only.
_TEXT_COLUMNS = ("args", "kwargs", "error", "job")
_PLAIN_KEY = re.compile(r"[A-Za-z0-9_]+")
_EXACT_INT = 2**53  # integers a JSON reader may hold as a double compare exactly below it


def state_condition(d: D, state: str) -> str:
    if state == "queued":
        return f"({d.unfinished_hint}state = 'pending' AND run_at <= {d.now_sql})"
    if state == "scheduled":
        return f"({d.unfinished_hint}state = 'pending' AND run_at > {d.now_sql})"
    if state == "waiting":
        return f"({d.unfinished_hint}state = 'waiting')"
    if state == LOST:
        return f"(state = 'running' AND lease_expires_at < {d.now_sql})"
    return f"state = '{state}'"  # names are checked against STATES before this point


def _text_condition(d: D, text: str, params: dict[str, Any]) -> str:
    """``text`` in any of the searched columns. The JSON ones hold a quote, a backslash
    or a control character escaped, and some (errors) non-ASCII text as ``\\u`` escapes,
    so there it is also looked for as JSON writes it, both ways."""
    wrap, folded = d.folded(text)
    params["text"] = like_pattern(folded)
    marks = [d.mark("text")]
    # Escaped from the text as given: escapes of the folded text (\u00e9 for É) are
    # not those stored (\u00c9).
    encodings = dict.fromkeys(d.folded(json.dumps(text, ensure_ascii=a)[1:-1])[1]
                              for a in (False, True))
    for i, encoded in enumerate(e for e in encodings if e != folded):
        params[f"text_json{i}"] = like_pattern(encoded)
        marks.append(d.mark(f"text_json{i}"))
    like = f" {d.like} {{}}{d.like_escape}"
    return "(" + " OR ".join(
        wrap.format(d.json_text(column)) + like.format(mark)
        for column in _TEXT_COLUMNS for mark in (marks[:1] if column == "job" else marks)
    ) + ")"


def where(d: D, flt: JobFilter, params: dict[str, Any]) -> str:
    """SQL conditions (joined by AND) for ``flt``; fills ``params``. Without the dialect's
    ``json_contains``, data subsets are matched afterwards in Python."""
    parts: list[str] = []

    def add(condition: str, name: str, value: Any) -> None:
        params[name] = value
        parts.append(condition)

    if flt.states:
        parts.append("(" + " OR ".join(state_condition(d, s) for s in flt.states) + ")")
    if flt.jobs is not None:
        parts.append(d.any_of("job", "jobs", list(flt.jobs), "text", params))
    if flt.hidden_jobs:
        parts.append(f"NOT ({d.any_of('job', 'hidden', list(flt.hidden_jobs), 'text', params)})")
    if flt.queues is not None:
        parts.append(d.any_of("queue", "queues", list(flt.queues), "text", params))
    if flt.ids is not None:
        parts.append(d.any_of("id", "ids", [int(i) for i in flt.ids], "bigint", params))
    if not flt.any_owner or flt.owner is not None:
        add(f"owner {d.same} {d.mark('owner', 'text')}", "owner", flt.owner)
    if flt.data is not None and d.json_contains:
        add(d.json_contains.format(d.mark("data")), "data", json.dumps(flt.data))
    if flt.text:
        parts.append(_text_condition(d, flt.text, params))
    for test, name in FILTER_COMPARISONS:
        value = getattr(flt, name)
        if value is not None:
            add(f"{test} {d.mark(name)}", name, value)
    return " AND ".join(parts) or "1 = 1"


def data_narrowing(d: D, data: Any, params: dict[str, Any]) -> str:
    """SQL conditions (each prefixed with AND) that every payload containing ``data``
    meets, for a dialect that matches subsets in Python: equality of its top-level text
    and integer fields (``json_field``). Fewer rows to match, never a match lost."""
    if not d.json_field or not isinstance(data, dict):
        return ""
    parts = []
    for i, (key, value) in enumerate(data.items()):
        exact = isinstance(value, str) or (
            type(value) is int and -_EXACT_INT < value < _EXACT_INT)  # not bool
        if isinstance(key, str) and _PLAIN_KEY.fullmatch(key) and exact:
            params[f"dk{i}"], params[f"dv{i}"] = f'$."{key}"', value
            parts.append(f" AND {d.json_field.format(d.mark(f'dk{i}'))} = {d.mark(f'dv{i}')}")
    return "".join(parts)
