"""Blind acceptance tests of SPEC §7 (worker and CLI): a user error is one line on stderr
and a non-zero exit, never a traceback."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from conveyor import Conveyor
from tests.acceptance.blind_surface.support import (
    _run_id,
    assert_user_error,
    run_cli,
    u,
)
from tests.conformance.helpers import drain


def test_a_burst_worker_leaves_future_and_paused_work(app: Conveyor) -> None:
    @app.job(queue="ëxports")
    def export() -> None: ...

    @app.job
    def later() -> None: ...

    later().run_in(1, "hour")
    app.pause(queue="ëxports")
    h = export().run_now()
    app.run_worker(concurrency=256, burst=True)
    rec = app.get_job(h.id)
    assert rec is not None and rec.state == "queued"
    assert [r.state for r in app.jobs_list(job="later")] == ["scheduled"]
    app.resume(queue="ëxports")
    drain(app)
    assert h.result(timeout=10) is None


def test_cli_version() -> None:
    result = run_cli("--version")
    assert result.exit_code == 0
    assert re.search(r"\d+\.\d+", result.stdout)


def test_cli_run_with_a_unicode_payload_then_list_it_as_json(cli_app: Path, url: str) -> None:
    run_id = _run_id(run_cli("run", "grüße", "--payload", '{"name": "Zoë ✓", "n": [1, 2]}'))
    listed = run_cli("runs", "--json")
    assert listed.exit_code == 0, listed.output
    rows = [json.loads(line) for line in listed.stdout.splitlines() if line.strip()]
    assert len(rows) == 1
    for key, value in rows[0].items():
        if key.endswith("_at") and value is not None:
            assert datetime.fromisoformat(value.replace("Z", "+00:00")).utcoffset() == timedelta()
    with Conveyor(url) as reader:
        @reader.job("grüße")
        def greet(payload: Any = None, *args: Any, **kwargs: Any) -> Any:
            return {"payload": payload, "args": list(args), "kwargs": kwargs}
        drain(reader)
        rec = reader.get_job(run_id)
    assert rec is not None and rec.state == "completed"
    assert rec.result == {"payload": {"name": "Zoë ✓", "n": [1, 2]}, "args": [], "kwargs": {}}


def test_cli_run_with_args_kwargs_a_fractional_while_and_a_time(cli_app: Path, url: str) -> None:
    first = _run_id(run_cli("run", "grüße", "--args", '["ä", 2]'))
    second = _run_id(run_cli("run", "grüße", "--kwargs", '{"ü": true}'))
    with Conveyor(url) as reader:
        a, b = reader.get_job(first), reader.get_job(second)
    assert a is not None and a.args == ["ä", 2]
    assert b is not None and b.kwargs == {"ü": True}

    before = datetime.now(UTC)
    later = _run_id(run_cli("run", "grüße", "--in", "1.5 hours"))
    at = _run_id(run_cli("run", "grüße", "--at", "2032-02-29T23:59:59+00:00"))
    with Conveyor(url) as reader:
        a, b = reader.get_job(later), reader.get_job(at)
    assert a is not None and a.state == "scheduled" and a.run_at is not None
    assert timedelta(minutes=89) < a.run_at - before < timedelta(minutes=91)
    assert b is not None and b.run_at == u(2032, 2, 29, 23, 59, 59)


@pytest.mark.parametrize(("args", "word"), [
    (("run", "no-such-job"), "no-such-job"),
    (("run", "grüße", "--payload", "{bad"), ""),
    (("run", "grüße", "--payload", '{"a": NaN}'), ""),
    (("run", "grüße", "--payload", '{"a": Infinity}'), ""),
    (("run", "grüße", "--payload", '"nul \\u0000 here"'), ""),
    (("run", "grüße", "--payload", "[" * 100 + "]" * 100), ""),
    (("run", "explode", "--payload", '{"a": 1}'), ""),
    (("run", "explode", "--kwargs", '{"nope": 1}'), ""),
    (("run", "grüße", "--in", "5 fortnights"), "fortnight"),
    (("run", "grüße", "--in", "-5 seconds"), ""),
    (("run", "grüße", "--at", "2031-02-29T00:00"), ""),
    (("show", "987654321"), "987654321"),
    (("runs", "--url", "nosuchdb://x/y"), ""),
    (("runs", "--url", "postgresql://postgres@127.0.0.1:1/nowhere"), ""),
    (("jobs", "--app", "no_such_module_xyz:app"), "no_such_module_xyz"),
    (("worker", "blind_jobs:app", "--concurrency", "0"), ""),
])
def test_cli_user_errors_are_one_line_without_traceback(cli_app: Path, url: str,
                                                        args: tuple[str, ...], word: str) -> None:
    assert_user_error(run_cli(*args), word)
    with Conveyor(url) as reader:
        assert reader.jobs_list() == []


def test_cli_read_only_verbs_create_no_store(cli_app: Path, tmp_path: Path) -> None:
    missing = tmp_path / "never" / "made.db"
    other = tmp_path / "absent.db"
    for verb in ("runs", "schedules", "queues"):
        result = run_cli(verb, "--url", f"sqlite:///{other}")
        assert "Traceback" not in result.output
        assert result.exit_code != 0, result.output
    result = run_cli("show", "1", "--url", f"sqlite:///{missing}")
    assert result.exit_code != 0
    assert not other.exists() and not missing.parent.exists()


def test_cli_cancel_retry_pause_and_resume(cli_app: Path, url: str) -> None:
    ids = [_run_id(run_cli("run", "grüße", "--in", "1 day")) for _ in range(2)]
    result = run_cli("cancel", *map(str, ids))
    assert result.exit_code == 0, result.output
    with Conveyor(url) as reader:
        assert [reader.get_job(i).state for i in ids] == ["cancelled", "cancelled"]  # type: ignore[union-attr]
    result = run_cli("retry", *map(str, ids))
    assert result.exit_code == 0, result.output
    with Conveyor(url) as reader:
        states = [reader.get_job(i).state for i in ids]  # type: ignore[union-attr]
    assert set(states) <= {"queued", "scheduled"}

    assert run_cli("pause", "--job", "grüße").exit_code == 0
    with Conveyor(url) as reader:
        assert "grüße" in reader.paused_jobs()
    assert run_cli("resume", "--job", "grüße").exit_code == 0
    with Conveyor(url) as reader:
        assert "grüße" not in reader.paused_jobs()


def test_cli_runs_filters_failed_and_show_prints_the_error(cli_app: Path, url: str) -> None:
    run_id = _run_id(run_cli("run", "explode"))
    _run_id(run_cli("run", "grüße"))
    with Conveyor(url) as worker_app:
        @worker_app.job
        def explode() -> None:
            raise RuntimeError("kaboom")

        @worker_app.job("grüße")
        def greet() -> None: ...
        drain(worker_app)
    failed = run_cli("runs", "--state", "failed", "--json")
    rows = [json.loads(line) for line in failed.stdout.splitlines() if line.strip()]
    assert [row["id"] for row in rows] == [run_id]
    shown = run_cli("show", str(run_id))
    assert shown.exit_code == 0 and "kaboom" in shown.stdout

    run_id = _run_id(run_cli("run", "grüße", "--at", "2031-06-01T12:00:00+02:00"))
    shown = run_cli("show", str(run_id), "--json")
    assert shown.exit_code == 0, shown.output
    row = json.loads(shown.stdout.strip().splitlines()[0])
    run_at = datetime.fromisoformat(row["run_at"].replace("Z", "+00:00"))
    assert run_at == u(2031, 6, 1, 10) and run_at.utcoffset() == timedelta()
