"""Helpers of the blind acceptance pass ``blind_p`` (SPEC §7-12, public names only)."""

from __future__ import annotations

import json
import textwrap
from typing import Any

from starlette.testclient import TestClient

from conveyor import Conveyor
from tests.acceptance.blind_m.support import run_cli as run_cli

APP_SOURCE = textwrap.dedent('''
    import os
    from conveyor import Conveyor, Fail, Retry

    app = Conveyor(os.environ["BLINDP_URL"])

    @app.job
    def echo(payload=None, *args, **kwargs):
        return {"payload": payload, "args": list(args), "kwargs": kwargs}

    @app.job(queue="alpha")
    def in_alpha(payload=None):
        return "alpha"

    @app.job(queue="beta")
    def in_beta(payload=None):
        return "beta"

    @app.job(retry=Retry(retries=0))
    def fails(payload=None):
        raise Fail("nope")

    @app.job(trigger=app.every("1 hour"))
    def hourly():
        return "tick"
''')

JSON = {"content-type": "application/json"}


def client(app: Conveyor, **options: Any) -> TestClient:
    """The dashboard and API of ``app`` (server errors come back as 500 answers)."""
    return TestClient(app.asgi(**options), raise_server_exceptions=False)


def assert_json_error(response: Any, *statuses: int) -> None:
    """A 4xx answer (one of ``statuses`` when given) with a JSON body ``{"error": ...}``."""
    assert 400 <= response.status_code < 500, (response.status_code, response.text[:300])
    if statuses:
        assert response.status_code in statuses, (response.status_code, response.text[:300])
    body = json.loads(response.text)
    assert isinstance(body, dict) and body.get("error"), body


def json_lines(text: str) -> list[Any]:
    """Every JSON value printed one per line (``--json`` output)."""
    text = text.strip()
    if text.startswith("["):
        return list(json.loads(text))
    return [json.loads(line) for line in text.splitlines() if line.strip()]
