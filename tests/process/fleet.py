"""Helpers of the fleet tests (tests/process/test_fleet_*.py): the fleet app loaded in the
test's process, and worker processes running it."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import pytest

from .helpers import Execution, spawn_worker, wait_until, worker_env

FLEET_APP = Path(__file__).with_name("fleet_app.py")


def load_fleet(url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[ModuleType]:
    """The fleet app, loaded in this process on ``url`` (to trigger and inspect); closed
    after the test (a fixture body: ``yield from load_fleet(url, monkeypatch)``)."""
    monkeypatch.setenv("CONVEYOR_URL", url)
    spec = importlib.util.spec_from_file_location("fleet_test_app", FLEET_APP)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    yield module
    module.app.close()


def live_workers(fleet: ModuleType) -> list[int]:
    """The pids of the workers registered and not stopped."""
    return [w.pid for w in fleet.app.store.workers(60) if w.stopped_at is None]


def start_fleet(fleet: ModuleType, url: str, tmp: Path, count: int,
                env: dict[str, str] | None = None,
                **options: object) -> list[subprocess.Popen[bytes]]:
    """``count`` workers on the fleet app, returned once all are registered."""
    before = len(live_workers(fleet))
    workers = [spawn_worker(url, tmp, app_file=FLEET_APP, poll_interval=0.05, env=env,
                            **options) for _ in range(count)]
    wait_until(lambda: len(live_workers(fleet)) >= before + count, 30, f"{count} workers", tmp)
    return workers


def peak(spans: list[tuple[float, float]]) -> int:
    """The most intervals open at once (an end at the same instant as a start first)."""
    stamps = sorted([(s, 1) for s, _ in spans] + [(e, -1) for _, e in spans])
    running = most = 0
    for _, step in stamps:
        running += step
        most = max(most, running)
    return most


def cli(url: str, tmp: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """``conveyor *args --app FLEET_APP`` in a process of its own."""
    return subprocess.run(
        [sys.executable, "-m", "conveyor", *args, "--app", str(FLEET_APP)],
        env=worker_env(url, tmp, 2.0), cwd=tmp, capture_output=True, text=True, timeout=30,
    )


def ran_once(group: list[Execution], victim: int, killed_at: float) -> bool:
    """One execution ran to its end, or two where the first ended in the killed worker
    shortly before the kill (its outcome not stored yet: rightly run again)."""
    ends = [r for r in group if r.end is not None]
    in_flight = [r for r in ends if r.pid == victim and r.end is not None
                 and r.end > killed_at - 1.0]
    return len(ends) == 1 or (len(ends) == 2 and ends[0] in in_flight)
