"""Helpers of the blind acceptance pass ``blind_m`` (SPEC §7-12, public names only)."""

from __future__ import annotations

import json
import textwrap
import uuid
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

from conveyor.cli import main as cli
from tests.acceptance.blind_surface.support import assert_user_error as assert_user_error

HOSTILE = "<script>alert('x')</script>"

APP_SOURCE = textwrap.dedent('''
    import os
    from conveyor import Conveyor, Retry

    app = Conveyor(os.environ["BLINDM_URL"])

    @app.job
    def echo(payload=None, *args, **kwargs):
        return {"payload": payload, "args": list(args), "kwargs": kwargs}

    @app.job("fails", retry=Retry(retries=0))
    def fails(payload=None):
        raise RuntimeError("nope")
''')


def run_cli(*args: str, env: dict[str, str] | None = None) -> Result:
    return CliRunner().invoke(cli, list(args), catch_exceptions=False, env=env)


def cli_app_module(tmp_path: Path, url: str, monkeypatch: pytest.MonkeyPatch, *,
                   source: str = APP_SOURCE, prefix: str = "blindm") -> Path:
    """A module ``{prefix}_jobs_*.py`` of ``source`` (its app on ``${PREFIX}_URL`` =
    ``url``) made the CLI's app (``$CONVEYOR_APP``, imported from the current directory),
    its store migrated."""
    name = f"{prefix}_jobs_{uuid.uuid4().hex[:8]}"  # a fresh import in this process
    module = tmp_path / f"{name}.py"
    module.write_text(source)
    monkeypatch.setenv(f"{prefix.upper()}_URL", url)
    monkeypatch.setenv("CONVEYOR_APP", f"{name}:app")
    monkeypatch.delenv("CONVEYOR_TOKEN", raising=False)
    monkeypatch.chdir(tmp_path)
    assert run_cli("migrate").exit_code == 0
    return module


def run_id_of(result: Result) -> int:
    """The run id ``conveyor run`` printed."""
    assert result.exit_code == 0, result.output
    digits = "".join(c if c.isdigit() else " " for c in result.stdout).split()
    return int(digits[-1])


def json_of(result: Result) -> Any:
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def items_of(body: Any) -> list[dict[str, Any]]:
    """The list in a JSON answer (a bare list, or the one list among its values)."""
    if isinstance(body, list):
        return body
    return next(v for v in body.values() if isinstance(v, list))


def is_iso_utc(text: object) -> bool:
    if not isinstance(text, str):
        return False
    moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    offset = moment.utcoffset()
    return offset is not None and offset.total_seconds() == 0
