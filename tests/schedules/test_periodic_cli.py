"""``conveyor schedules``: the same schedules as ``app.schedules()``, as a table or JSON;
pause, resume and remove by id."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from conveyor.cli import main

APP = textwrap.dedent(
    """
    from conveyor import Conveyor

    app = Conveyor()

    @app.job(trigger=app.cron("0 3 * * *", tz="Europe/Paris"))
    def nightly():
        pass
    """
)


@pytest.fixture
def invoke(tmp_path: Path) -> object:
    (tmp_path / "schedapp.py").write_text(APP)
    env = {"CONVEYOR_URL": f"sqlite:///{tmp_path}/s.db",
           "CONVEYOR_APP": str(tmp_path / "schedapp.py"),
           "COLUMNS": "200"}  # a COLUMNS=80 (pytest-xdist sets it) would cut the table

    def run(*args: str) -> Result:
        return CliRunner().invoke(main, ["schedules", *args], env=env)

    synced = run("sync")  # as a starting worker does
    assert synced.output == "saved 1 schedule declared in code: nightly\n", synced.output
    return run


def test_schedules_lists_definition_next_times_in_utc_and_local_and_last_run(invoke) -> None:
    result = invoke()
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[0].split()[:4] == ["ID", "JOB", "DEFINITION", "NEXT"]
    assert "nightly" in lines[1] and "0 3 * * *" in lines[1]
    assert "03:00:00 CE" in lines[1]  # 03:00 CET or CEST in the schedule's own zone
    assert " 02:00:00 " in lines[1] or " 01:00:00 " in lines[1]  # ... and in UTC
    assert "At 03:00 every day (Europe/Paris time)" in result.output


def test_schedules_json_matches_app_schedules(invoke) -> None:
    [line] = invoke("--json").output.splitlines()
    record = json.loads(line)
    assert (record["id"], record["tz"], record["paused"]) == ("nightly", "Europe/Paris", False)
    assert len(record["next"]) == 3 and all(t.endswith("+00:00") for t in record["next"])
    assert "next_local" not in record  # JSON datetimes are all UTC
    assert record["last_run"] is None and isinstance(record["next_run"], int)


def test_pause_resume_and_remove_by_id(invoke) -> None:
    assert invoke("--pause", "nightly").output == "paused nightly\n"
    assert json.loads(invoke("--json").output)["paused"] is True
    assert invoke("--resume", "nightly").output == "resumed nightly\n"
    assert invoke("--remove", "nightly").output == "removed nightly\n"


def test_an_unknown_schedule_id_is_one_error_line(invoke) -> None:
    result = invoke("--pause", "nope")
    assert result.exit_code == 2
    assert "error: no schedule with id 'nope'" in result.output
