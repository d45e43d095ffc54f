"""Pure helpers shared by stores: payload subset matching, state names."""

from __future__ import annotations

import json
from collections.abc import Iterable
from decimal import Decimal
from typing import Any

from conveyor.errors import ConfigurationError
from conveyor.stores.base import POISON_RESCUES, SHARED_RESCUES, STATES

# The errors a rescue records (JSON, like an attempt's error).
RESCUED_ERROR = json.dumps({
    "type": "LeaseExpired",
    "message": "the worker running this job stopped heartbeating (it died or lost "
    "its connection); the job was rescued",
    "traceback": None,
})
POISON_ERROR = json.dumps({
    "type": "PoisonJob",
    "message": f"the job was rescued {POISON_RESCUES} times in a row without finishing "
    f"while alone on its worker, or {SHARED_RESCUES} times while sharing it (it keeps "
    "killing its worker); failed as a poison job",
    "traceback": None,
})


def contains(payload: Any, subset: Any) -> bool:
    """True when ``subset`` is contained in ``payload`` (like PostgreSQL's ``jsonb @>``,
    with its one exception: a top-level array contains a scalar that is one of its
    items)."""
    if isinstance(payload, list) and not isinstance(subset, (dict, list)):
        return any(not isinstance(item, (dict, list)) and _contained(item, subset)
                   for item in payload)
    return _contained(payload, subset)


def _contained(payload: Any, subset: Any) -> bool:
    """``jsonb @>`` below the top level. Plain loops: one stack frame per level, so a
    subset as deep as a filter may be (``DEPTH_CEILING``) stays far from Python's
    recursion limit."""
    if isinstance(subset, dict):
        if not isinstance(payload, dict):
            return False
        for key, value in subset.items():
            if key not in payload or not _contained(payload[key], value):
                return False
        return True
    if isinstance(subset, list):
        if not isinstance(payload, list):
            return False
        for wanted in subset:
            for item in payload:
                if _contained(item, wanted):
                    break
            else:
                return False
        return True
    if isinstance(subset, bool) or isinstance(payload, bool):
        return subset is payload
    if isinstance(subset, (int, float)) and isinstance(payload, (int, float)):
        return _decimal(payload) == _decimal(subset)
    return bool(payload == subset)


def _decimal(number: float) -> Decimal:
    """The value of a number's JSON text, which ``jsonb`` compares: ``float(2**70)`` is
    written ``1.1805916207174113e+21``, a number other than ``2**70``."""
    return Decimal(repr(number)) if isinstance(number, float) else Decimal(number)


def check_states(states: Any) -> list[str]:
    """Normalise a state filter (a name or names) and refuse unknown names."""
    if states is None:
        return []
    if isinstance(states, str):
        names = [states]
    elif isinstance(states, Iterable) and not isinstance(states, (bytes, dict)):
        names = list(states)
    else:
        names = [states]  # refused below, naming it
    for name in names:
        if name not in STATES:
            raise ConfigurationError(
                f"unknown job state {name!r}; accepted: {', '.join(STATES)}"
            )
    return names


# JobFilter fields that are one comparison with a column: (column and operator, field).
FILTER_COMPARISONS = (
    ("created_at >=", "created_after"), ("created_at <", "created_before"),
    ("key =", "key"), ("schedule_id =", "schedule_id"), ("event_id =", "event_id"),
    ("id <", "id_below"), ("id >", "id_above"), ("parent_id =", "parent_id"),
)


def like_pattern(text: str) -> str:
    """A LIKE pattern (with ``ESCAPE '\\'``) that matches ``text`` anywhere, literally."""
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"
