"""A run's place in a workflow, for the run page: its parent, the child runs it started,
the jobs it depends on and those that depend on it (each with its state, linked)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from conveyor.app import Conveyor
    from conveyor.records import JobRecord

# The run page lists this many children; the rest are a link to the filtered runs list.
CHILDREN_SHOWN = 50


def _nodes(app: Conveyor, ids: Sequence[int]) -> list[dict[str, Any]]:
    """{id, job, state} of each id in order ("purged" for those no longer stored)."""
    if not ids:
        return []
    found = {r.id: r for r in app.jobs_list(ids=list(ids), limit=len(ids))}
    return [
        {"id": i, "job": found[i].job, "state": found[i].state} if i in found
        else {"id": i, "job": None, "state": "purged"}
        for i in ids
    ]


def workflow_tree(app: Conveyor, rec: JobRecord) -> dict[str, Any]:
    """The fields the run page and API add for workflows."""
    parent = _nodes(app, [rec.parent_id]) if rec.parent_id is not None else []
    children = _nodes(app, rec.children[:CHILDREN_SHOWN])
    unfinished_children = rec.children and app.count(
        parent=rec.id, state=["scheduled", "queued", "blocked", "running", "waiting"])
    return {
        "parent_id": rec.parent_id,
        "parent": parent[0] if parent else None,
        "children": children,
        "children_total": len(rec.children),
        "depends_on": _nodes(app, rec.depends_on),
        "dependents": _nodes(app, rec.dependents),
        "can_cascade": bool(unfinished_children) or (not rec.finished and bool(rec.children)),
    }
