"""The operator's day: --version, --replace needs --key (or --all), --json datetimes in
ISO 8601 UTC, positional args and durable steps in ``show``, paused schedules marked,
grammatical counts, a busy port reported before any URL."""

from __future__ import annotations

import json
import re
import socket
import textwrap
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from conveyor import Conveyor
from conveyor.cli import main
from tests.cli.conftest import Invoke
from tests.support import datetime_strings

ISO_UTC = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?\+00:00")


def test_help_lists_every_command_with_its_whole_first_sentence() -> None:
    result = CliRunner().invoke(main, ["--help"], terminal_width=80)
    commands = result.output.split("Commands:\n", 1)[1].splitlines()
    assert len(commands) == len(main.commands)
    assert not [line for line in commands if line.endswith("...")]


def test_version_prints_the_version() -> None:
    result = CliRunner().invoke(main, ["--version"])
    assert result.exit_code == 0
    assert re.fullmatch(r"conveyor \d+\.\d+\.\d+\S*\n", result.output)


def test_replace_without_a_key_is_refused(invoke: Invoke) -> None:
    result = invoke("run", "add", "--args", "[1, 2]", "--replace")
    assert result.exit_code == 2
    assert result.stderr == ("error: --replace without --key would match every pending run "
                             "of 'add'; give --key KEY, or add --all if that is what you "
                             "mean\n")
    first = invoke("run", "add", "--args", "[1, 2]", "--in", "1 hour").stdout.strip()
    second = invoke("run", "add", "--args", "[3, 4]", "--in", "1 hour", "--replace", "--all")
    assert second.exit_code == 0, second.output
    shown = json.loads(invoke("show", first, "--json").stdout)
    assert shown["state"] == "cancelled"


def test_every_json_output_writes_iso_8601_utc(invoke: Invoke) -> None:
    job_id = invoke("run", "greet", "--payload", '{"name": "Ada"}').stdout.strip()
    invoke("worker", "--burst")
    outputs = [invoke("runs", "--json").stdout, invoke("show", job_id, "--json").stdout]
    found = [t for out in outputs for line in out.splitlines()
             for t in datetime_strings(json.loads(line))]
    assert len(found) >= 6
    assert all(ISO_UTC.fullmatch(t) for t in found), found


def test_show_displays_positional_args(invoke: Invoke) -> None:
    job_id = invoke("run", "add", "--args", "[20, 22]").stdout.strip()
    out = invoke("show", job_id).stdout
    assert re.search(r"^args\s+\[20, 22\]\s*$", out, re.M), out
    assert "history (0 attempts)" in out and "logs (0 lines)" in out
    assert not re.search(r"^payload", out, re.M)  # the arguments are the payload
    invoke("worker", "--burst")
    out = invoke("show", job_id).stdout
    assert "history (1 attempt)" in out


DURABLE = textwrap.dedent(
    """
    from conveyor import Conveyor

    app = Conveyor()

    @app.job
    async def onboard(payload, io):
        user = await io.task("load-user", lambda: {"email": "a@b.c"})
        await io.logger.info("loaded")
        return user["email"]

    @app.job
    def add(a, b):
        return a + b
    """
)


def test_show_lists_durable_steps_and_the_dashboard_shows_args(tmp_path: Path) -> None:
    (tmp_path / "durableapp.py").write_text(DURABLE)
    env = {"CONVEYOR_APP": str(tmp_path / "durableapp.py"),
           "CONVEYOR_URL": f"sqlite:///{tmp_path}/d.db", "COLUMNS": "200"}

    def invoke(*args: str) -> Any:
        return CliRunner().invoke(main, list(args), env=env)

    job_id = invoke("run", "onboard", "--payload", "{}").stdout.strip()
    invoke("worker", "--burst")
    out = invoke("show", job_id).stdout
    assert "steps (2 steps)" in out
    assert re.search(r"1\. load-user \[task\] completed", out), out
    data = json.loads(invoke("show", job_id, "--json").stdout)
    assert [s["key"] for s in data["steps"]] == ["load-user", "info"]
    assert ISO_UTC.fullmatch(data["steps"][0]["started_at"])

    pytest.importorskip("starlette")
    from starlette.testclient import TestClient

    from conveyor.dashboard import create_app

    with Conveyor(env["CONVEYOR_URL"]) as app:
        app.job("add")(lambda a, b: a + b)
        handle = app.jobs["add"](20, 22).run_now()
        client = TestClient(create_app(app), base_url="http://127.0.0.1")
        page = client.get(f"/runs/{handle.id}").text
    assert "Positional arguments" in page and 'id="args"' in page
    assert re.search(r"20,\s*22", page)


def test_jobs_marks_a_paused_schedule(tmp_path: Path) -> None:
    (tmp_path / "tickapp.py").write_text(textwrap.dedent(
        """
        from conveyor import Conveyor
        app = Conveyor()

        @app.job(trigger=app.every("hour"))
        def tick():
            pass
        """))
    env = {"CONVEYOR_APP": str(tmp_path / "tickapp.py"),
           "CONVEYOR_URL": f"sqlite:///{tmp_path}/t.db", "COLUMNS": "200"}
    runner = CliRunner()
    assert runner.invoke(main, ["schedules", "sync"], env=env).exit_code == 0
    assert "(paused)" not in runner.invoke(main, ["jobs"], env=env).stdout
    assert runner.invoke(main, ["schedules", "--pause", "tick"], env=env).exit_code == 0
    assert "(paused)" in runner.invoke(main, ["jobs"], env=env).stdout


def test_a_busy_port_is_one_line_before_any_url(invoke: Invoke) -> None:
    invoke("migrate")
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = invoke("dashboard", "--port", str(port))
    assert result.exit_code == 2
    assert result.stderr == (f"error: port {port} on 127.0.0.1 is already in use; stop what "
                             "runs there or pick another with --port\n")
    assert "http://" not in result.output
