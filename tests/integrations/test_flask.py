"""Flask: init_app adds ``flask conveyor <verb>``; the example app end to end."""

from __future__ import annotations

import importlib
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.support import ROOT

pytest.importorskip("flask")
MODULE = "examples.flask_app.app"


@pytest.fixture
def example(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    monkeypatch.setenv("CONVEYOR_URL", f"sqlite:///{tmp_path}/shop.db")
    monkeypatch.syspath_prepend(str(ROOT))
    sys.modules.pop(MODULE, None)
    module = importlib.import_module(MODULE)
    yield module
    module.jobs.close()
    sys.modules.pop(MODULE, None)


def test_flask_conveyor_runs_every_verb_on_the_app(example: Any, tmp_path: Path) -> None:
    flask_app = example.app
    assert flask_app.extensions["conveyor"] is example.jobs
    job_id = flask_app.test_client().post("/orders/7").get_json()["job"]
    runner = flask_app.test_cli_runner()
    listed = runner.invoke(args=["conveyor", "jobs"])
    assert listed.exit_code == 0 and "send_receipt" in listed.output
    queued = runner.invoke(args=["conveyor", "run", "send_receipt", "--payload", "8"])
    assert queued.exit_code == 0, queued.output
    env = {k: v for k, v in os.environ.items() if not k.startswith("CONVEYOR_")}
    env.update(CONVEYOR_URL=f"sqlite:///{tmp_path}/shop.db", PYTHONPATH=str(ROOT))
    worker = subprocess.run(
        [sys.executable, "-m", "flask", "--app", MODULE, "conveyor", "worker", "--burst"],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=60,
    )
    assert worker.returncode == 0, worker.stderr
    shown = runner.invoke(args=["conveyor", "show", str(job_id), "--json"])
    assert shown.exit_code == 0, shown.output
    assert json.loads(shown.output)["state"] == "completed"
    done = runner.invoke(args=["conveyor", "runs", "--state", "completed"])
    assert done.output.count("send_receipt") == 2


def test_flask_conveyor_user_errors_are_one_line(example: Any) -> None:
    result = example.app.test_cli_runner().invoke(args=["conveyor", "run", "nope"])
    assert result.exit_code != 0
    assert "unknown job" in result.output.lower() or "nope" in result.output
    assert "Traceback" not in result.output


@pytest.mark.parametrize("verb", [["runs"], ["jobs"], ["show", "1"], ["schedules"], ["queues"]])
def test_flask_read_only_verbs_create_no_store_at_another_url(
    example: Any, tmp_path: Path, verb: list[str]
) -> None:
    other = tmp_path / "other.db"
    result = example.app.test_cli_runner().invoke(
        args=["conveyor", *verb, "--url", f"sqlite:///{other}"])
    assert result.exit_code == 2, result.output
    assert "no conveyor store" in result.output and "Traceback" not in result.output
    assert not other.exists()
