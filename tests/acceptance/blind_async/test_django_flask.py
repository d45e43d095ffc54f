"""Blind acceptance tests of SPEC §11: Django and Flask integrations."""

from __future__ import annotations

import sys
from typing import Any

import pytest

from conveyor import Conveyor
from tests.acceptance.blind_async.support import DJANGO_SCRIPT


def test_django_triggers_share_the_transaction_and_savepoints(
        django_db: dict[str, str], tmp_path: Any) -> None:
    import json
    import os
    import subprocess

    package = tmp_path / "blindapp"
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "jobs.py").write_text(
        "from conveyor.contrib.django import app\n\n\n@app.job\n"
        "def shout(text):\n    return text.upper() + '!'\n")
    env = {k: v for k, v in os.environ.items() if not k.startswith("CONVEYOR_")}
    env |= {"BLIND_DB": json.dumps(django_db),
            "PYTHONPATH": os.pathsep.join([str(tmp_path), os.getcwd()])}
    done = subprocess.run([sys.executable, "-c", DJANGO_SCRIPT], cwd=tmp_path, env=env,
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert "COUNT 1" in done.stdout, done.stdout
    assert 'RESULT "GRÜSS!"' in done.stdout, done.stdout
    assert "inner" not in done.stdout and "rolled back" not in done.stdout


def test_flask_cli_runs_a_job_then_a_burst_worker(store_url: str) -> None:
    from flask import Flask

    from conveyor.contrib.flask import init_app

    if store_url.startswith("memory"):
        pytest.skip("the CLI verbs share the store across invocations")
    with Conveyor(store_url) as app:
        @app.job("flask-ß")
        def in_flask(payload: Any) -> Any:
            return {"got": payload}

        web = Flask("blind-async")
        init_app(web, app)
        runner = web.test_cli_runner()
        made = runner.invoke(args=["conveyor", "run", "flask-ß", "--payload", '{"ä": [1]}'])
        assert made.exit_code == 0, made.output
        worked = runner.invoke(args=["conveyor", "worker", "--burst"])
        assert worked.exit_code == 0, worked.output
        (only,) = app.jobs_list(job="flask-ß")
        assert only.state == "completed" and only.result == {"got": {"ä": [1]}}
