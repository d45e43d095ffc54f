"""Helpers of the fleet tests (tests/process/test_fleet_*.py): the fleet app loaded in the
test's process, and worker processes running it."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import pytest

from .helpers import (
    Execution,
    load_app_file,
    open_gate,
    spawn_worker,
    wait_until,
    worker_env,
)

FLEET_APP = Path(__file__).with_name("fleet_app.py")
SURVIVOR_LEASE = 3.0
VICTIM_LEASE = 1.0


def load_fleet(url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[ModuleType]:
    """The fleet app, loaded in this process on ``url``; closed after the test."""
    yield from load_app_file(FLEET_APP, url, monkeypatch)


def race(url: str, tmp: Path, script: str, count: int) -> list[str]:
    """``count`` processes running ``script`` (``sys.argv[1]`` is the fleet app) from one
    gate; their outputs, once all exited with 0."""
    gate = tmp / "gate"
    procs = [subprocess.Popen([sys.executable, "-c", script, str(FLEET_APP)],
                              env=worker_env(url, tmp, 2.0, CONVEYOR_TEST_GATE=str(gate)),
                              cwd=tmp, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
             for _ in range(count)]
    open_gate(gate, procs)
    outputs = []
    for proc in procs:
        out, err = proc.communicate(timeout=60)
        assert proc.returncode == 0, err.decode()
        outputs.append(out.decode())
    return outputs


def live_workers(fleet: ModuleType) -> list[int]:
    """The pids of the workers registered and not stopped."""
    return [w.pid for w in fleet.app.store.workers(60) if w.stopped_at is None]


def start_fleet(fleet: ModuleType, url: str, tmp: Path, count: int,
                env: dict[str, str] | None = None,
                **options: object) -> list[subprocess.Popen[bytes]]:
    """``count`` workers on the fleet app, returned once all are registered. Their lease is
    3 s unless given: a busy machine stalling a worker that is never killed must not let
    the others rescue its runs (a worker meant to be killed -9 takes 1 s, rescued soon)."""
    options.setdefault("lease", SURVIVOR_LEASE)
    before = len(live_workers(fleet))
    workers = [spawn_worker(url, tmp, app_file=FLEET_APP, poll_interval=0.05, env=env,
                            **options) for _ in range(count)]
    wait_until(lambda: len(live_workers(fleet)) >= before + count, 30, f"{count} workers", tmp)
    return workers


def start_with_victim(fleet: ModuleType, url: str, tmp: Path, count: int,
                      env: dict[str, str] | None = None, **options: object
                      ) -> tuple[subprocess.Popen[bytes], list[subprocess.Popen[bytes]]]:
    """A victim (a worker of VICTIM_LEASE, to be killed -9) and ``count`` survivors, all
    started with ``env`` and ``options``."""
    [victim] = start_fleet(fleet, url, tmp, 1, env, lease=VICTIM_LEASE, **options)
    return victim, start_fleet(fleet, url, tmp, count, env, **options)


def cli(url: str, tmp: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """``conveyor *args --app FLEET_APP`` in a process of its own."""
    return subprocess.run(
        [sys.executable, "-m", "conveyor", *args, "--app", str(FLEET_APP)],
        env=worker_env(url, tmp, 2.0), cwd=tmp, capture_output=True, text=True, timeout=30,
    )


def ran_once(group: list[Execution], victim: int, killed_at: float) -> bool:
    """One execution ran to its end, or two where the first ended in the killed worker
    and the second started after the kill: its outcome was not stored yet when the worker
    died, so it rightly ran again (at least once, SPEC §4)."""
    ends = sorted((r for r in group if r.end is not None), key=lambda r: r.start)
    return len(ends) == 1 or (len(ends) == 2 and ends[0].pid == victim
                              and ends[1].start >= killed_at)
