"""``conveyor worker --metrics-port``: Prometheus metrics from a worker process, shared by
its processes through PROMETHEUS_MULTIPROC_DIR."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import urllib.request
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families

from conveyor import Conveyor
from tests.support import ROOT, free_port, wait_for

CLI = "from conveyor.cli import main; main()"
APP = '''
from conveyor import Conveyor
app = Conveyor()

@app.job
def add(a, b):
    return a + b
'''


def _completed(port: int) -> float:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=30) as r:
            text = r.read().decode()
    except OSError:
        return -1
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            if s.name == "conveyor_attempts_completed_total" and s.labels == {"job": "add"}:
                return s.value
    return 0


@pytest.mark.parametrize("processes", [1, 2])
def test_worker_serves_metrics_shared_through_the_multiprocess_dir(
    tmp_path: Path, processes: int
) -> None:
    """One worker, or a supervisor of two serving the counts of both."""
    (tmp_path / "jobsapp.py").write_text(APP)
    url = f"sqlite:///{tmp_path}/m.db"
    shared = tmp_path / "prom"
    shared.mkdir()
    app = Conveyor(url)
    app.include(type("J", (), {"jobs": {"add": lambda a, b: a + b}}))
    for i in range(5):
        app.jobs["add"](i, 1).run_now()
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("CONVEYOR_")}
    env.update(CONVEYOR_URL=url, PYTHONPATH=f"{ROOT}:{tmp_path}",
               PROMETHEUS_MULTIPROC_DIR=str(shared))
    proc = subprocess.Popen(
        [sys.executable, "-c", CLI, "worker", "jobsapp:app", "--metrics-port",
         str(port), "--processes", str(processes)],
        cwd=tmp_path, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    try:
        wait_for(lambda: _completed(port) == 5, timeout=30)
        assert any(shared.iterdir()), "counters are written to the shared directory"
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(20)
        app.close()


def test_metrics_port_needs_a_free_port(tmp_path: Path) -> None:
    (tmp_path / "jobsapp.py").write_text(APP)
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        env = {k: v for k, v in os.environ.items() if not k.startswith("CONVEYOR_")}
        env.update(CONVEYOR_URL=f"sqlite:///{tmp_path}/m.db", PYTHONPATH=f"{ROOT}:{tmp_path}")
        done = subprocess.run(
            [sys.executable, "-c", CLI, "worker", "jobsapp:app", "--burst",
             "--metrics-port", str(port)], cwd=tmp_path, env=env, capture_output=True,
            text=True, timeout=60,
        )
    assert done.returncode != 0
    [line] = done.stderr.strip().splitlines()  # the error alone: no banner before it
    assert line.startswith("error: cannot serve metrics")
