"""Starting worker processes and reading their ledgers."""

from __future__ import annotations

import importlib.util
import itertools
import os
import subprocess
import sys
import time
from collections import defaultdict
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from tests.support import ROOT, wait_for

APP_FILE = Path(__file__).with_name("app.py")


def load_app_file(path: Path, url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[ModuleType]:
    """The test app in ``path``, loaded in this process on ``url`` (to trigger and
    inspect); closed after the test (a fixture body: ``yield from load_app_file(...)``)."""
    monkeypatch.setenv("CONVEYOR_URL", url)
    spec = importlib.util.spec_from_file_location(f"{path.stem}_in_test", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    yield module
    module.app.close()


def peak(spans: list[tuple[float, float]]) -> int:
    """The most intervals open at once (an end at the same instant as a start first)."""
    stamps = sorted([(s, 1) for s, _ in spans] + [(e, -1) for _, e in spans])
    running = most = 0
    for _, step in stamps:
        running += step
        most = max(most, running)
    return most

_RUN = (
    "import importlib.util, json, sys\n"
    "spec = importlib.util.spec_from_file_location('process_test_app', sys.argv[1])\n"
    "module = importlib.util.module_from_spec(spec)\n"
    "sys.modules['process_test_app'] = module\n"
    "spec.loader.exec_module(module)\n"
    "module.app.run_worker(**json.loads(sys.argv[2]))\n"
)


def worker_env(url: str, tmp: Path, lease: float, **extra: str) -> dict[str, str]:
    env = dict(os.environ)
    env.update(CONVEYOR_URL=url, CONVEYOR_TEST_LEDGER=str(tmp / "ledger"),
               CONVEYOR_TEST_LEASE=str(lease), PYTHONPATH=str(ROOT), **extra)
    return env


def spawn_worker(url: str, tmp: Path, *, lease: float = 2.0, env: dict[str, str] | None = None,
                 app_file: Path = APP_FILE, **options: Any) -> subprocess.Popen[bytes]:
    """A worker process running ``app.run_worker(**options)`` on the test app (or the
    app of ``app_file``)."""
    import json

    log = open(tmp / f"worker-{time.monotonic_ns()}.log", "wb")  # noqa: SIM115 - kept by Popen
    return _spawned(subprocess.Popen(
        [sys.executable, "-c", _RUN, str(app_file), json.dumps(options)],
        env=worker_env(url, tmp, lease, **(env or {})), cwd=tmp, stdout=log,
        stderr=subprocess.STDOUT,
    ))


def spawn_cli_worker(url: str, tmp: Path, *args: str, lease: float = 2.0,
                     env: dict[str, str] | None = None) -> subprocess.Popen[bytes]:
    """``conveyor worker APP_FILE *args`` as a real process (``python -m conveyor``),
    logging to ``tmp`` like :func:`spawn_worker`."""
    log = open(tmp / f"worker-{time.monotonic_ns()}.log", "wb")  # noqa: SIM115 - kept by Popen
    return _spawned(subprocess.Popen(
        [sys.executable, "-m", "conveyor", "worker", str(APP_FILE), *args],
        env=worker_env(url, tmp, lease, **(env or {})), cwd=tmp, stdout=log,
        stderr=subprocess.STDOUT,
    ))


_SPAWNED: list[subprocess.Popen[bytes]] = []


def _spawned(proc: subprocess.Popen[bytes]) -> subprocess.Popen[bytes]:
    _SPAWNED.append(proc)
    return proc


#: Code a racing process runs once it is ready (its imports done): it waits at the gate
#: ``$CONVEYOR_TEST_GATE`` until :func:`open_gate` opens it for every racer at once.
AT_THE_GATE = (
    "import os as _os, time as _time\n"
    "_gate = _os.environ['CONVEYOR_TEST_GATE']\n"
    "open(f'{_gate}.{_os.getpid()}', 'w').close()\n"
    "while not _os.path.exists(_gate):\n"
    "    _time.sleep(0.001)\n"
)


def open_gate(gate: Path, procs: list[subprocess.Popen[Any]]) -> None:
    """Let ``procs`` (running :data:`AT_THE_GATE` with ``$CONVEYOR_TEST_GATE`` = ``gate``)
    go together once all of them wait there (or one has exited: its error tells why)."""
    wait_for(lambda: len(list(gate.parent.glob(f"{gate.name}.*"))) >= len(procs)
             or any(p.poll() is not None for p in procs), 60, "the racers at the gate")
    gate.touch()


def worker_logs(tmp: Path) -> str:
    return "\n".join(p.read_text(errors="replace") for p in sorted(tmp.glob("worker-*.log")))


def wait_until(predicate: Callable[[], Any], timeout: float, what: str, tmp: Path) -> Any:
    """:func:`tests.support.wait_for`, failing with the workers' logs."""
    return wait_for(predicate, timeout, what, details=lambda: worker_logs(tmp), interval=0.02)


@dataclass
class Execution:
    job_id: int
    attempt: int
    pid: int
    start: float
    end: float | None = None


def executions(tmp: Path) -> list[Execution]:
    """Every execution recorded in the ledgers, in start order."""
    runs: dict[tuple[int, int, int], Execution] = {}
    for path in tmp.glob("ledger.*"):
        for line in path.read_text().splitlines():
            event, job_id, attempt, pid, at = line.split()
            key = (int(job_id), int(attempt), int(pid))
            if event == "start":
                runs[key] = Execution(int(job_id), int(attempt), int(pid), float(at))
            else:
                runs[key].end = float(at)
    return sorted(runs.values(), key=lambda e: e.start)


def by_job(runs: list[Execution]) -> dict[int, list[Execution]]:
    grouped: dict[int, list[Execution]] = defaultdict(list)
    for run in runs:
        grouped[run.job_id].append(run)
    return grouped


def peak_overlap(runs: list[Execution]) -> int:
    """The most of ``runs`` that were running at one moment (unfinished ones never end)."""
    edges = sorted([(r.start, 1) for r in runs]
                   + [(r.end, -1) for r in runs if r.end is not None])
    return max(itertools.accumulate(step for _, step in edges), default=0)


def assert_no_overlap(runs: list[Execution], killed: dict[int, float]) -> None:
    """No two executions of one job overlapped; an unfinished execution in a killed
    process (pid -> kill time) ended when it was killed."""
    for job_id, group in by_job(runs).items():
        for before, after in itertools.pairwise(group):
            end = before.end if before.end is not None else killed.get(before.pid)
            assert end is not None, f"job {job_id}: execution in {before.pid} never ended"
            assert after.start >= end, f"job {job_id}: executions overlapped: {group}"


def stop(proc: subprocess.Popen[bytes], timeout: float = 15) -> int:
    """SIGTERM, then its exit code; one still running after ``timeout`` is killed (never
    left behind to load the machine for the tests after it) and the wait's error raised."""
    if proc.poll() is None:
        proc.terminate()
    try:
        return proc.wait(timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
        raise


def reap() -> None:
    """Kill every process :func:`spawn_worker` / :func:`spawn_cli_worker` started that a
    test left running (one that failed before it stopped them)."""
    while _SPAWNED:
        proc = _SPAWNED.pop()
        if proc.poll() is None:
            proc.kill()
            proc.wait()


@contextmanager
def running(workers: list[subprocess.Popen[bytes]], tmp: Path,
            kill: subprocess.Popen[bytes] | None = None) -> Iterator[None]:
    """Stop ``workers`` (SIGTERM) as the block ends, however it ends (``kill`` -9 first: a
    victim); a block that ended well then requires each of them to have exited 0 (one that
    did not exit within the wait is killed and counts as -9)."""
    try:
        yield
    finally:
        if kill is not None:
            kill.kill()
        codes = [_stopped(w) for w in workers]
    assert codes == [0] * len(workers), worker_logs(tmp)


def _stopped(proc: subprocess.Popen[bytes]) -> int:
    try:
        return stop(proc)
    except subprocess.TimeoutExpired:
        return -9
