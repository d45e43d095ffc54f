"""Load the named queries from ``queries.sql``."""

from __future__ import annotations

import re
from importlib import resources


def load() -> dict[str, bytes]:
    """{name: SQL} for every ``-- name: <name>`` block in queries.sql and flow.sql."""
    folder = resources.files("conveyor.stores.postgres")
    text = "\n".join((folder / name).read_text("utf-8") for name in ("queries.sql", "flow.sql"))
    queries: dict[str, bytes] = {}
    for block in re.split(r"^-- name: ", text, flags=re.MULTILINE)[1:]:
        name, _, body = block.partition("\n")
        lines = [line for line in body.splitlines() if not line.lstrip().startswith("--")]
        queries[name.strip()] = "\n".join(lines).strip().rstrip(";").encode()
    # The variant for workers that serve some queues only.
    queries["next_due_queues"] = queries["next_due"].replace(
        b"/*queues*/", b"AND j.queue = ANY(%(queues)s::text[])"
    )
    return queries


Q = load()
