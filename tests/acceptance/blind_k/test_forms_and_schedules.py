"""Blind tests of SPEC §7: the dashboard's "run now" form (CSRF token, payload/args/kwargs)
and `conveyor schedules --pause/--resume/--remove` on a run-time schedule (§6)."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from starlette.testclient import TestClient

from conveyor import Conveyor
from tests.acceptance.blind_k.test_cli import lines
from tests.acceptance.blind_surface.support import assert_user_error, run_cli


def test_run_now_form_needs_its_csrf_token_and_valid_json(app: Conveyor) -> None:
    @app.job("echo")
    def echo(payload: Any = None, *args: Any, **kwargs: Any) -> Any:
        return payload

    with TestClient(app.asgi(), base_url="http://127.0.0.1", follow_redirects=False) as client:
        page = client.get("/jobs/echo")
        assert page.status_code == 200
        found = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
        assert found is not None
        token = found.group(1)
        forms: list[tuple[dict[str, str], int]] = [
            ({"payload": '{"a": "<script>"}'}, 303),
            ({"args": "[1, 2]"}, 303),
            ({"kwargs": '{"x": 1}'}, 303),
            ({"payload": "{bad"}, 400),
            ({"payload": "1", "args": "[2]"}, 400),
            ({"payload": "NaN"}, 400),
        ]
        for data, status in forms:
            answer = client.post("/jobs/echo/run", data={"csrf_token": token, **data})
            assert answer.status_code == status, (data, answer.status_code)
            assert "<script>" not in answer.text
        for token_sent in ({}, {"csrf_token": "forged"}):
            answer = client.post("/jobs/echo/run", data={"payload": "1", **token_sent})
            assert answer.status_code == 403
    stored = [(r.args, r.kwargs) for r in app.jobs_list(job="echo")]
    assert len(stored) == 3
    for expected in (([{"a": "<script>"}], {}), ([1, 2], {}), ([], {"x": 1})):
        assert expected in stored


@pytest.mark.parametrize("verb", ["--pause", "--resume", "--remove"])
def test_schedule_verbs_refuse_an_unknown_id(kapp: Path, url: str, verb: str) -> None:
    assert_user_error(run_cli("schedules", verb, "tick"), "tick")


def test_pause_resume_and_remove_a_run_time_schedule(kapp: Path, url: str) -> None:
    with Conveyor(url) as writer:
        writer.job("tick")(lambda payload=None: None)
        writer.schedule_job(type="tick", data={"a": 1}, schedule="every weekday at 9:30 am")
    (schedule,) = lines("schedules")
    assert schedule["paused"] is False and schedule["next"]
    assert run_cli("schedules", "--pause", schedule["id"]).exit_code == 0
    assert lines("schedules")[0]["paused"] is True
    assert run_cli("schedules", "--resume", schedule["id"]).exit_code == 0
    assert lines("schedules")[0]["paused"] is False
    (occurrence,) = lines("runs", "--state", "scheduled")
    assert occurrence["run_at"].endswith("09:30:00+00:00")
    assert run_cli("schedules", "--remove", schedule["id"]).exit_code == 0
    assert lines("schedules") == []
    assert lines("runs", "--state", "scheduled") == []
    assert_user_error(run_cli("schedules", "--remove", schedule["id"]), schedule["id"])
