"""SPEC §7 command line in-process (click's runner): ``--url`` overrides the app's own
store (which may be unreachable), every ``--json`` datetime is ISO 8601 UTC under a
non-UTC app, queue pauses, and user errors as one line on stderr with a non-zero exit."""

from __future__ import annotations

import json
import textwrap
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from conveyor import Conveyor
from tests.acceptance.blind_surface.support import assert_user_error, run_cli
from tests.support import datetime_strings

TOKYO = textwrap.dedent("""
    from conveyor import Conveyor

    app = Conveyor({own!r}, timezone="Asia/Tokyo")

    @app.job("morgen-ü", trigger=app.cron("30 9 * * *"))
    def morning(payload=None):
        return payload
""")
def _module(tmp_path: Path, name: str, own: str) -> str:
    (tmp_path / f"{name}.py").write_text(TOKYO.format(own=own))
    return str(tmp_path / f"{name}.py")


def test_url_overrides_an_app_whose_own_store_is_unreachable(tmp_path: Path, url: str) -> None:
    app_file = _module(tmp_path, "fernjobs", "postgresql://postgres@127.0.0.1:1/nowhere")
    made = run_cli("--app", app_file, "--url", url, "run", "morgen-ü", "--payload", '{"a": 1}')
    assert made.exit_code == 0, made.output
    run_id = int(made.stdout.split()[-1])
    worked = run_cli("worker", app_file, "--burst", "--url", url)
    assert worked.exit_code == 0, worked.output
    with Conveyor(url) as reader:
        record = reader.get_job(run_id)
    assert record is not None and record.state == "completed" and record.result == {"a": 1}


def test_every_json_datetime_is_utc_under_a_tokyo_app(tmp_path: Path, url: str) -> None:
    app_file = _module(tmp_path, "tokyojobs", url)
    assert run_cli("--app", app_file, "schedules", "sync").exit_code == 0
    made = run_cli("--app", app_file, "run", "morgen-ü", "--at", "2031-06-01T09:30")
    assert made.exit_code == 0, made.output
    run_id = made.stdout.split()[-1]
    seen: list[str] = []
    for verb in (["runs"], ["show", run_id], ["schedules"], ["jobs"], ["queues"]):
        done = run_cli("--app", app_file, *verb, "--json")
        assert done.exit_code == 0, (verb, done.output)
        for line in done.stdout.splitlines():
            seen += datetime_strings(json.loads(line))
    assert seen
    for text in seen:
        assert datetime.fromisoformat(text.replace("Z", "+00:00")).utcoffset() == timedelta()
    assert "2031-06-01T00:30:00" in " ".join(seen)  # 09:30 in Tokyo


def test_pause_and_resume_a_queue_from_the_cli(cli_app: Path, url: str) -> None:
    assert run_cli("pause", "--queue", "lots-ü").exit_code == 0
    listed = run_cli("queues", "--json")
    rows = {row["name"]: row for row in map(json.loads, listed.stdout.splitlines())}
    assert rows["lots-ü"]["paused"] is True
    with Conveyor(url) as reader:
        assert {q.name: q.paused for q in reader.queues()}["lots-ü"] is True
    assert run_cli("resume", "--queue", "lots-ü").exit_code == 0
    with Conveyor(url) as reader:
        assert {q.name: q.paused for q in reader.queues()}.get("lots-ü") in (False, None)


@pytest.mark.parametrize(("args", "word"), [
    (("pause",), ""),
    (("pause", "--job", "nirgends"), "nirgends"),
    (("cancel",), ""),
    (("cancel", "abc"), "abc"),
    (("retry", "1.5"), "1.5"),
    (("run", "grüße", "--payload", "{}", "--args", "[]"), ""),
    (("run", "grüße", "--in", "30 seconds", "--at", "2031-01-01T00:00:00+00:00"), ""),
    (("run", "grüße", "--priority", "urgent"), "urgent"),
    (("run", "grüße", "--args", '{"a": 1}'), ""),
    (("run", "grüße", "--kwargs", "[1]"), ""),
    (("run", "grüße", "--in", "soon"), "soon"),
    (("run", "grüße", "--at", "tomorrow"), "tomorrow"),
    (("runs", "--state", "bogus"), "bogus"),
    (("schedules", "--pause", "nirgends"), "nirgends"),
    (("dashboard", "--port", "99999"), "99999"),
    (("purge", "--older-than", "5 fortnights"), "fortnights"),
    (("nosuchverb",), "nosuchverb"),
    (("jobs", "--app", "blind_jobs:nope"), "nope"),
])
def test_more_user_errors_are_one_line(cli_app: Path, url: str, args: tuple[str, ...],
                                       word: str) -> None:
    assert_user_error(run_cli(*args), word)
    with Conveyor(url) as reader:
        assert reader.jobs_list() == []
