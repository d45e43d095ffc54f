"""``conveyor cancel --cascade`` and ``conveyor runs --parent`` on a real SQLite file."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

import pytest

from tests.cli.conftest import Invoke

SOURCE = textwrap.dedent(
    """
    from conveyor import Conveyor

    app = Conveyor()

    @app.job(queue="later")
    def held(x):
        return x

    @app.job
    async def fan(n, io):
        return await io.run_jobs("held", [held(i) for i in range(n)])
    """
)


@pytest.fixture
def app_file(tmp_path: Path) -> Path:
    path = tmp_path / "fanapp.py"
    path.write_text(SOURCE)
    return path


def test_cancel_cascade_stops_the_children_and_runs_lists_them(invoke: Invoke) -> None:
    parent = invoke("run", "fan", "--args", "[3]").stdout.strip()
    assert invoke("worker", "--burst", "--queues", "default").exit_code == 0
    children = [json.loads(line) for line in
                invoke("runs", "--parent", parent, "--json").stdout.splitlines()]
    assert len(children) == 3 and {c["parent_id"] for c in children} == {int(parent)}
    assert {c["state"] for c in children} == {"queued"}
    shown = json.loads(invoke("show", "--json", parent).stdout)
    assert shown["state"] == "waiting" and sorted(shown["children"]) == sorted(
        c["id"] for c in children)
    result = invoke("cancel", "--cascade", parent)
    assert result.exit_code == 0, result.output
    assert result.stdout.strip() == f"cancelled {parent}"
    states = {json.loads(line)["state"] for line in
              invoke("runs", "--parent", parent, "--json").stdout.splitlines()}
    assert states == {"cancelled"}


def test_runs_parent_refuses_a_non_id(invoke: Invoke) -> None:
    result = invoke("runs", "--parent", "abc")
    assert result.exit_code != 0 and "Traceback" not in result.output
