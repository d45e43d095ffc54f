"""Finding the app: module:attr on the current directory, file paths, --url overrides."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from conveyor import Conveyor
from conveyor.cli import main
from conveyor.cli.loading import AppNotFound, load_app, split_spec
from tests.cli.conftest import run_cli
from tests.support import ROOT

# Each test starts several subprocesses (each imports conveyor and more): minutes in
# all on a CI machine at load 16, past the default 120 s timeout.
pytestmark = pytest.mark.timeout(600)


@pytest.mark.parametrize(("spec", "expected"), [
    ("pkg.mod:app", ("pkg.mod", "app")),
    ("pkg.mod", ("pkg.mod", None)),
    ("path/to/app.py", ("path/to/app.py", None)),
    ("path/to/app.py:jobs_app", ("path/to/app.py", "jobs_app")),
])
def test_split_spec(spec: str, expected: tuple[str, str | None]) -> None:
    assert split_spec(spec) == expected


def test_file_path_finds_the_only_conveyor_instance(tmp_path: Path) -> None:
    path = tmp_path / "only.py"
    path.write_text("from conveyor import Conveyor\nqueue_app = Conveyor('memory://')\n")
    app = load_app(str(path))
    assert isinstance(app, Conveyor) and app.url == "memory://"


def test_file_path_with_attr_and_several_apps(tmp_path: Path) -> None:
    path = tmp_path / "two.py"
    path.write_text("from conveyor import Conveyor\na = Conveyor('memory://')\n"
                    "b = Conveyor('memory://')\n")
    assert load_app(f"{path}:b") is not load_app(f"{path}:a")
    with pytest.raises(AppNotFound, match=r"several Conveyor apps in .* \(a, b\); pick one"):
        load_app(str(path))


def test_file_app_can_import_its_siblings(tmp_path: Path) -> None:
    (tmp_path / "sibling_jobs_mod.py").write_text("VALUE = 7\n")
    (tmp_path / "withsib.py").write_text(
        "from conveyor import Conveyor\nimport sibling_jobs_mod\napp = Conveyor('memory://')\n"
        "app.value = sibling_jobs_mod.VALUE\n")
    assert load_app(str(tmp_path / "withsib.py")).value == 7  # type: ignore[attr-defined]


def test_module_attr_is_imported_from_the_current_directory(tmp_path: Path) -> None:
    (tmp_path / "cwdapp_mod.py").write_text(
        "from conveyor import Conveyor\napp = Conveyor()\n@app.job\ndef ping():\n    pass\n")
    result = run_cli("jobs", "--app", "cwdapp_mod:app", cwd=tmp_path,
                     env={"CONVEYOR_URL": "memory://"})
    assert result.returncode == 0, result.stderr
    assert "ping" in result.stdout


def test_app_comes_from_conveyor_app_env_and_worker_takes_it_positionally(
    tmp_path: Path, app_file: Path
) -> None:
    env = {"CONVEYOR_URL": f"sqlite:///{tmp_path}/w.db"}
    runner = CliRunner()
    assert runner.invoke(main, ["run", "add", "--args", "[2, 3]"],
                         env={**env, "CONVEYOR_APP": str(app_file)}).exit_code == 0
    result = runner.invoke(main, ["worker", str(app_file), "--burst"], env=env)
    assert result.exit_code == 0, result.output
    assert "conveyor worker: 3 jobs on sqlite:///" in result.stderr


def test_a_positional_app_wins_over_conveyor_app_env(tmp_path: Path, app_file: Path) -> None:
    other = tmp_path / "otherapp.py"
    other.write_text("from conveyor import Conveyor\napp = Conveyor()\n")
    env = {"CONVEYOR_URL": f"sqlite:///{tmp_path}/w.db", "CONVEYOR_APP": str(other)}
    result = CliRunner().invoke(main, ["worker", str(app_file), "--burst"], env=env)
    assert result.exit_code == 0, result.output
    assert "conveyor worker: 3 jobs on sqlite:///" in result.stderr  # cliapp.py's 3, not 0


def test_url_is_the_store_of_an_app_built_with_conveyor(tmp_path: Path, app_file: Path) -> None:
    url = f"sqlite:///{tmp_path}/override.db"
    app = load_app(str(app_file), url)
    assert app.url == url and app.store.url == url
    app.close()


def test_url_reopens_an_app_that_names_its_url(tmp_path: Path) -> None:
    path = tmp_path / "named.py"
    path.write_text(f"from conveyor import Conveyor\napp = Conveyor('sqlite:///{tmp_path}/own.db')\n")
    url = f"sqlite:///{tmp_path}/other.db"
    app = load_app(str(path), url)
    assert app.url == url and app.store.url == url
    assert app.applied_migrations  # the --url store was created and migrated
    app.close()


def test_url_does_not_leak_into_the_environment(tmp_path: Path, app_file: Path,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CONVEYOR_URL", raising=False)
    load_app(str(app_file), "memory://").close()
    assert "CONVEYOR_URL" not in os.environ
    assert str(tmp_path) in sys.path  # the file's folder, for sibling imports


def test_installed_entry_point_runs() -> None:
    exe = Path(sys.executable).with_name("conveyor")
    if not exe.exists():
        pytest.skip("conveyor is not installed as a script in this environment")
    out = subprocess.run([str(exe), "--help"], capture_output=True, text=True, timeout=30)
    assert out.returncode == 0
    for verb in ("worker", "run", "jobs", "runs", "show", "cancel", "retry", "purge",
                 "migrate", "dashboard"):
        assert f"  {verb} " in out.stdout


@pytest.mark.parametrize("module", ["conveyor", "conveyor.cli"])
def test_python_dash_m_runs_the_command(module: str, tmp_path: Path, app_file: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CONVEYOR_")}
    env.update(PYTHONPATH=str(ROOT), CONVEYOR_APP=str(app_file),
               CONVEYOR_URL=f"sqlite:///{tmp_path}/m.db")

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", module, *args], capture_output=True,
                              text=True, timeout=60, env=env, cwd=tmp_path)

    version = run("--version")
    assert version.returncode == 0 and version.stdout.startswith("conveyor ")
    assert run("run", "add", "--args", "[2, 3]").stdout.strip() == "1"
    assert run("worker", "--burst").returncode == 0
    assert '"result": 5' in run("show", "1", "--json").stdout
    wrong = run("run", "nope")
    assert wrong.returncode == 2
    assert wrong.stderr.splitlines() == [
        "error: no job 'nope' is defined; defined jobs: add, greet, broken"]
