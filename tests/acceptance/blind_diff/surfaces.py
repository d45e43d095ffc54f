"""The user-facing surfaces of the differential pass: a dashboard client and in-process
CLI calls on each app, and what they answer written so that two stores agree exactly when
they show the same (run ids as their place among the runs stored, JSON types kept)."""

from __future__ import annotations

import bisect
import json
import re
from typing import Any

from click.testing import CliRunner
from starlette.testclient import TestClient

from conveyor import Conveyor
from conveyor.cli import main
from conveyor.cli.base import preset_app

#: Keys whose int values (or lists of ints) are run ids.
RUN_ID_KEYS = {"id", "rescheduled_from", "parent_id", "next_run", "source", "runs",
               "children", "depends_on", "dependents", "next_before", "searched_to",
               "run_id"}
#: What legitimately differs whatever the store: which workers ran (random ids, each
#: named by its host and pid) and when they last beat.
DROPPED = {"seconds_since_heartbeat", "worker_id", "workers"}
TOKEN = "blind-diff-token-0123456789"  # long: the dashboard hides it in what it shows
_RUN_IN_TEXT = re.compile(r"(/runs/|\brun |\brun-|\bid |\bjob |run_id=)(\d+)")
_UUID = re.compile(r"\b[0-9a-f]{32}\b")  # an event id the store made up (uuid4)


def client(app: Conveyor) -> TestClient:
    return TestClient(app.asgi(token=TOKEN), base_url="http://127.0.0.1",
                      headers={"Authorization": f"Bearer {TOKEN}"})


def cli(app: Conveyor, *args: str) -> tuple[int, list[Any], str]:
    """``conveyor ARGS`` on ``app`` in this process: exit code, stdout's lines (JSON read,
    a run id printed alone as ``{"id": ...}``), stderr."""
    with preset_app(app):
        result = CliRunner().invoke(
            main, list(args), env={"CONVEYOR_APP": None, "CONVEYOR_URL": None,
                                   "COLUMNS": "200"})
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise result.exception
    lines = [json.loads(line) if line.startswith("{") else
             {"id": int(line)} if line.isdigit() else line
             for line in result.stdout.splitlines()]
    return result.exit_code, lines, result.stderr


class Shown:
    """Writes what a surface answered for comparison: each run id as ``#n`` (its place
    among the ids stored now; ``#n~`` for one no longer stored), so that stores whose ids
    start elsewhere (a PostgreSQL schema reused keeps its sequence) compare alike."""

    def __init__(self, app: Conveyor) -> None:
        self.ids = sorted(r.id for r in app.jobs_list(newest_first=False))

    def run(self, value: int) -> str:
        place = bisect.bisect_left(self.ids, value)
        stored = place < len(self.ids) and self.ids[place] == value
        return f"#{place}" + ("" if stored else "~")

    def text(self, value: str) -> str:
        value = _UUID.sub("<uuid>", value)
        return _RUN_IN_TEXT.sub(lambda m: m[1] + self.run(int(m[2])), value)

    def __call__(self, value: Any, key: str | None = None) -> Any:
        if isinstance(value, dict):
            return {k: self(v, k) for k, v in value.items() if k not in DROPPED}
        if isinstance(value, (list, tuple)):
            items = [self(v, key) for v in value]
            if key == "events":  # newest first; those sent at one instant by id, and an
                # id the store made up is random: in an order of their own here
                items.sort(key=lambda e: (e["sent_at"] or "", repr(e)), reverse=True)
            return items
        if isinstance(value, str):
            return self.text(value)
        if key in RUN_ID_KEYS and isinstance(value, int) and not isinstance(value, bool):
            return self.run(value)
        return value


def typed(value: Any) -> str:
    """``repr``: tells 1, 1.0 and True apart, and keeps key order."""
    return repr(value)
