"""Many plain jobs in one COPY: ids reserved in one statement, rows formatted as COPY text
column by column (a value every job shares is formatted once per chunk), chunk by chunk:
the server stores a chunk while Python formats the next."""

from __future__ import annotations

from collections.abc import Sequence
from itertools import repeat
from typing import Any

from conveyor.clock import after_delay
from conveyor.stores.base import NewJob
from conveyor.stores.core.batch import Columns, columns
from conveyor.stores.core.dialect import JOB_FIELDS

# copy_jobs' columns after the id: JOB_FIELDS (run_at holds the due time, delay is folded
# into it), then state and created_at.
_FIELDS = tuple(name for name in JOB_FIELDS if name != "delay")
_CHUNK = 2000  # rows per write
_SEP = "\x00"  # joins a column's texts to escape them at once: no PostgreSQL text has it


def copy_jobs(conn: Any, queries: dict[str, str], jobs: Sequence[NewJob]) -> list[int]:
    """Store ``jobs`` (plain, at least one) on ``conn`` in its open transaction; their
    ids in order."""
    size = len(jobs)
    now, first, last, scattered = conn.execute(queries["reserve_ids"], {"n": size}).fetchone()
    ids = sorted(scattered) if scattered is not None else list(range(first, last + 1))
    cols = columns(jobs)
    with conn.cursor().copy(queries["copy_jobs"]) as copy:
        for start in range(0, size, _CHUNK):
            stop = start + _CHUNK
            copy.write(_lines(cols.part(start, stop), ids[start:stop], now))
    return ids


def _lines(cols: Columns, ids: list[int], now: float) -> str:
    """COPY text of the jobs of ``cols``, one line each."""
    size = cols.size
    texts: list[Any] = [map(str, ids)]
    for name in _FIELDS:
        if name == "run_at":
            texts.append(_run_at(cols.shared, cols.varying, now, size))
        elif name in cols.shared:
            texts.append(repeat(_text(cols.shared[name]), size))
        else:
            texts.append(_column(cols.varying[name]))
    texts += [repeat("pending", size), repeat(repr(now), size)]
    return "\n".join(map("\t".join, zip(*texts, strict=False))) + "\n"


def _run_at(shared: dict[str, Any], varying: dict[str, Sequence[Any]], now: float,
            size: int) -> Any:
    """The due times: ``run_at``, else the database's now + ``delay``."""
    if "run_at" in shared and "delay" in shared:
        given = shared["run_at"]
        first = after_delay(now, shared["delay"]) if given is None else float(given)
        return repeat(repr(first), size)
    run_at = varying.get("run_at") or repeat(shared.get("run_at"), size)
    delay = varying.get("delay") or repeat(shared.get("delay"), size)
    return [repr(after_delay(now, d) if r is None else float(r))
            for r, d in zip(run_at, delay, strict=False)]


def _column(values: Sequence[Any]) -> list[str]:
    """One varying column as COPY text, escaped all at once when it is all str."""
    try:
        joined = _SEP.join(values)
    except TypeError:  # None or numbers among them
        return [_text(v) for v in values]
    if joined.count(_SEP) != len(values) - 1:  # a NUL inside a value: PostgreSQL says so
        return [_text(v) for v in values]
    return _escape(joined).split(_SEP)


def _text(value: Any) -> str:
    """One value as COPY text (\\N is NULL)."""
    if value is None:
        return "\\N"
    if isinstance(value, str):
        return _escape(value)
    if isinstance(value, float):
        return repr(value)
    return str(int(value))


def _escape(text: str) -> str:
    if "\\" in text:
        text = text.replace("\\", "\\\\")
    if "\t" in text or "\n" in text or "\r" in text:
        text = text.replace("\t", "\\t").replace("\n", "\\n").replace("\r", "\\r")
    return text
