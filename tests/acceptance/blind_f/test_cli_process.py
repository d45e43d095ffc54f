"""SPEC §7 with the CLI as a real process (``python -m conveyor``): the version, an APP
``module:attr`` imported from the current directory, ``--url`` overriding the app's
store, a burst worker on some queues, and user errors as one line without a traceback."""

from __future__ import annotations

import json
import textwrap
from importlib.metadata import version
from pathlib import Path

import pytest

from conveyor import Conveyor
from tests.acceptance.blind_f.support import assert_one_line_error, conveyor_process

# Each test starts several subprocesses (each imports conveyor and more): minutes in
# all on a CI machine at load 16, past the default 120 s timeout.
pytestmark = pytest.mark.timeout(600)

SHOP = textwrap.dedent("""
    from conveyor import Conveyor

    app = Conveyor("sqlite:///elsewhere.db")  # never used: every call passes --url

    @app.job("versand-ü")
    def ship(payload):
        return {"shipped": payload}
""")


def test_the_entry_point_prints_the_installed_version(tmp_path: Path) -> None:
    done = conveyor_process("--version", cwd=tmp_path, entry_point=True)
    assert done.returncode == 0, done.stderr
    assert version("conveyor") in done.stdout


def test_a_worker_from_the_current_directory_on_another_url_takes_only_its_queues(
        tmp_path: Path, url: str) -> None:
    (tmp_path / "shopjobs.py").write_text(SHOP)
    with Conveyor(url) as app:
        @app.job("versand-ü")
        def ship(payload: object) -> object: ...

        ids = {q: ship({"q": q}).run_now(queue=q).id for q in ("a", "b", "c-ü")}
    done = conveyor_process("worker", "shopjobs:app", "--burst", "--queues", "a,b",
                            "--concurrency", "2", "--url", url, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    listed = conveyor_process("runs", "--json", "--url", url, cwd=tmp_path,
                              env={"CONVEYOR_APP": "shopjobs:app"})
    assert listed.returncode == 0, listed.stderr
    rows = {row["id"]: row for row in map(json.loads, listed.stdout.splitlines())}
    assert {q: rows[i]["state"] for q, i in ids.items()} == {
        "a": "completed", "b": "completed", "c-ü": "queued"}
    assert not (tmp_path / "elsewhere.db").exists()


@pytest.mark.parametrize(("source", "args", "word"), [
    ('app.job(trigger=app.schedule("every fortnight at 9"))(print)', ("jobs",), "fortnight"),
    ("", ("runs", "--url", "postgresql://postgres@127.0.0.1:1/nowhere"), ""),
])
def test_user_errors_in_a_real_process_are_one_line(tmp_path: Path, source: str,
                                                    args: tuple[str, ...], word: str) -> None:
    (tmp_path / "badjobs.py").write_text(SHOP + source + "\n")
    done = conveyor_process("--app", "badjobs:app", *args, cwd=tmp_path)
    assert_one_line_error(done, word)
