"""``conveyor pause``, ``resume`` and ``queues``."""

from __future__ import annotations

import json

from .conftest import Invoke


def test_pause_queue_and_job_then_queues_shows_them(invoke: Invoke) -> None:
    assert invoke("run", "greet", "--payload", '{"name": "a"}').exit_code == 0
    result = invoke("pause", "--queue", "mail", "--job", "add")
    assert result.exit_code == 0, result.output
    assert result.output.splitlines() == ["paused queue mail", "paused job add"]
    table = invoke("queues")
    assert table.exit_code == 0
    assert "mail" in table.output and "paused" in table.output
    lines = [json.loads(line) for line in invoke("queues", "--json").output.splitlines()]
    mail = next(q for q in lines if q["name"] == "mail")
    assert mail["paused"] is True and mail["counts"] == {"queued": 1}
    assert mail["paused_runs"] == 1
    assert invoke("resume", "--queue", "mail").output.strip() == "resumed queue mail"
    mail = next(json.loads(line) for line in invoke("queues", "--json").output.splitlines()
                if json.loads(line)["name"] == "mail")
    assert mail["paused"] is False and mail["counts"] == {"queued": 1}


def test_pause_errors_are_one_line(invoke: Invoke) -> None:
    result = invoke("pause")
    assert result.exit_code == 2 and "give --queue QUEUE or --job JOB" in result.output
    result = invoke("resume", "--job", "nope")
    assert result.exit_code == 2 and "no job 'nope'" in result.output
    assert "Traceback" not in result.output
