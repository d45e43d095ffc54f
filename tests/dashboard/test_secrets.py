"""One list of secret names drives what every surface shows: the dashboard, the API, the
CLI, io.logger steps and the run's log copy; text search is no oracle for them."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from click.testing import CliRunner

from conveyor import Conveyor
from conveyor.cli import main

from .conftest import ClientFactory
from .helpers import finish

SECRET = "hunter2-zebra"
PAYLOAD = {"user": "ann", "password": SECRET, "dsn": f"postgresql://ann:{SECRET}@db/x",
           "hook": f"https://h.example/x?api_key={SECRET}&page=2"}


def test_no_surface_shows_a_secret(demo: Conveyor, make_client: ClientFactory) -> None:
    run_id = demo.jobs["echo"](PAYLOAD).run_now().id
    finish(demo)
    client = make_client(demo)
    for path in (f"/api/runs/{run_id}", "/api/runs", f"/runs/{run_id}", "/runs", "/"):
        text = client.get(path).text
        assert SECRET not in text, path
    detail = client.get(f"/api/runs/{run_id}").json()
    assert detail["payload"]["password"] == "[redacted]"
    assert detail["payload"]["dsn"] == "postgresql://ann:[redacted]@db/x"
    assert detail["result"]["echo"]["hook"] == "https://h.example/x?api_key=[redacted]&page=2"


def test_text_search_cannot_find_runs_by_a_redacted_value(
    demo: Conveyor, make_client: ClientFactory
) -> None:
    run_id = demo.jobs["echo"](PAYLOAD).run_now().id
    client = make_client(demo)

    def found(text: str) -> list[int]:
        return [r["id"] for r in client.get("/api/runs", params={"q": text}).json()["runs"]]

    assert found(SECRET) == [] and found("zebra") == [] and found("unter2") == []
    assert found("ann") == [run_id] and found("h.example") == [run_id]
    assert found("ANN") == [run_id]  # the search stays case-insensitive
    assert f'href="/runs/{run_id}"' not in client.get("/runs", params={"q": SECRET}).text
    assert f'href="/runs/{run_id}"' in client.get("/runs", params={"q": "ann"}).text


def test_the_cli_shows_no_secret(tmp_path: Path) -> None:
    (tmp_path / "app.py").write_text(
        "from conveyor import Conveyor\n"
        f"app = Conveyor('sqlite:///{tmp_path}/s.db')\n"
        "@app.job\n"
        "def echo(payload):\n"
        "    raise ValueError('cannot reach ' + payload['dsn'])\n"
    )
    app_spec = str(tmp_path / "app.py")
    runner = CliRunner()
    args = ["run", "echo", "--payload", json.dumps(PAYLOAD), "--app", app_spec]
    run_id = runner.invoke(main, args).output.strip()
    runner.invoke(main, ["worker", app_spec, "--burst"])
    for command in (["show", run_id], ["show", run_id, "--json"], ["runs"], ["runs", "--json"]):
        result = runner.invoke(main, [*command, "--app", app_spec], env={"COLUMNS": "300"})
        assert result.exit_code == 0, result.output
        assert SECRET not in result.output, command
    shown = runner.invoke(main, ["show", run_id, "--json", "--app", app_spec]).output
    record = json.loads(shown)
    assert record["payload"]["password"] == "[redacted]"
    assert "postgresql://ann:[redacted]@db/x" in record["error"]["message"]


def test_io_logger_fields_and_the_log_copy_are_redacted(demo: Conveyor) -> None:
    @demo.job
    async def chatty(payload: Any, io: Any) -> None:
        await io.logger.info(f"calling https://h/?token={SECRET}", api_key=SECRET, n=3)

    record = demo.get_job(chatty(None).run_now().id)
    finish(demo)
    record = demo.get_job(record.id)  # type: ignore[union-attr]
    assert record is not None and record.state == "completed"
    (step,) = [s for s in demo.steps(record.id) if s.kind == "log"]
    assert SECRET not in json.dumps(step.input)
    assert step.input["fields"] == {"api_key": "[redacted]", "n": 3}
    assert [g.message for g in record.logs] == [
        "calling https://h/?token=[redacted] api_key='[redacted]' n=3"]


def test_task_step_inputs_are_stored_redacted(demo: Conveyor) -> None:
    def call_api(url: str, api_key: str) -> int:
        return 1

    @demo.job
    async def with_task(payload: Any, io: Any) -> None:
        await io.task("call", call_api, f"https://u:{SECRET}@h/", api_key=SECRET)

    record = demo.get_job(with_task(None).run_now().id)
    assert record is not None
    finish(demo)
    (step,) = [s for s in demo.steps(record.id) if s.kind == "task"]
    assert SECRET not in json.dumps(step.input)
    assert step.input["kwargs"] == {"api_key": "[redacted]"}
