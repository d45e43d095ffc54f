"""The README's code samples run as written, on every store (memory://, a temporary SQLite
file, a PostgreSQL schema; the command line on the two stores processes share)."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support import store_url as url_of

# Each test starts several subprocesses (each imports conveyor and more): minutes in
# all on a CI machine at load 16, past the default 120 s timeout.
pytestmark = pytest.mark.timeout(600)

README = Path(__file__).resolve().parents[2] / "README.md"
FENCE = re.compile(r"```(\w+)\n(.*?)```", re.S)


def blocks(language: str, after: str | None = None) -> list[str]:
    """Fenced blocks of ``language``; with ``after``, only those after that marker."""
    text = README.read_text()
    if after is not None:
        marker = f"<!-- readme-test: {after} -->"
        assert marker in text, f"README lost its {marker} marker"
        text = text.split(marker, 1)[1]
    return [body for lang, body in FENCE.findall(text) if lang == language]


def run(args: list[str], cwd: Path, url: str, timeout: float = 60) -> str:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CONVEYOR_")}
    env.update(CONVEYOR_URL=url, PATH=f"{Path(sys.executable).parent}:{env.get('PATH', '')}")
    done = subprocess.run(args, cwd=cwd, env=env, capture_output=True, text=True,
                          timeout=timeout)
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout


@pytest.fixture(params=["sqlite", "postgres"])
def shared_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A store several processes can share."""
    return url_of(request.param, request, tmp_path, "readme.db")


@pytest.fixture
def tasks_py(tmp_path: Path) -> Path:
    (tmp_path / "tasks.py").write_text(blocks("python", after="tasks.py")[0])
    return tmp_path


def test_the_30_second_example_prints_the_result(tasks_py: Path, store_url: str) -> None:
    out = run([sys.executable, "tasks.py"], tasks_py, store_url)
    assert out.strip() == "{'path': 'cat.png', 'width': 800}"


def test_the_command_line_example_runs_the_job(tasks_py: Path, shared_url: str) -> None:
    script = blocks("sh", after="shell")[0] + (
        "for i in $(seq 100); do conveyor runs --app tasks.py --state completed | grep -q "
        "resize && break; sleep 0.1; done\nkill -TERM %1\nwait\n"
        "conveyor show 1 --app tasks.py\n"
    )
    out = run(["bash", "-e", "-c", script], tasks_py, shared_url)
    assert out.splitlines()[0] == "1"
    assert "job 1 resize  completed" in out and '"dog.png"' in out and "resizing dog.png" in out


def test_the_concept_samples_run_in_order(tmp_path: Path, store_url: str) -> None:
    session = "\n".join(blocks("python", after="concepts"))
    (tmp_path / "concepts.py").write_text(session)
    run([sys.executable, "concepts.py"], tmp_path, store_url)


def test_the_systemd_worker_command_line_is_valid(tmp_path: Path) -> None:
    unit = blocks("ini")[0]
    command = re.search(r"^ExecStart=\S+/conveyor (.*)$", unit, re.M)
    assert command is not None
    package = tmp_path / "myproject"
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "tasks.py").write_text("from conveyor import Conveyor\napp = Conveyor()\n")
    run([sys.executable, "-c", "from conveyor.cli import main; main()",
         *command.group(1).split(), "--burst"], tmp_path, f"sqlite:///{tmp_path}/w.db")
