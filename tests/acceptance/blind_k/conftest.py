"""Fixtures of the blind pass over SPEC §7 and §11 (CLI, worker, dashboard, observability)
on SQLite and PostgreSQL: ``kapp`` is a module file defining ``app`` on the test's store."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from tests.acceptance.blind_surface.support import app_module

SOURCE = textwrap.dedent("""
    import os
    from conveyor import Conveyor, Fail

    app = Conveyor(os.environ["BLIND_K_URL"])

    @app.job("tick", trigger=app.every("15 minutes"))
    def tick():
        return "tick"

    @app.job("<b>evil</b>", name="<script>alert(1)</script>", queue="slow")
    def evil(payload=None):
        return payload

    @app.job
    def boom(payload=None):
        raise Fail("boom <i>" + repr(payload))

    @app.job("durable")
    async def durable(payload, io):
        value = await io.task("double", lambda x: x * 2, payload["n"])
        return {"value": value}
""")


@pytest.fixture
def kapp(tmp_path: Path, url: str, monkeypatch: pytest.MonkeyPatch) -> Path:
    return app_module(tmp_path, monkeypatch, "blind_k_jobs.py", SOURCE, "BLIND_K_URL", url)
