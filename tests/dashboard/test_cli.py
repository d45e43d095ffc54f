"""``conveyor dashboard APP --with-worker`` in a real process: serves, runs jobs, stops."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx

APP = """
from conveyor import Conveyor
app = Conveyor({url!r})

@app.job
def double(n):
    return n * 2
"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_dashboard_command_serves_with_a_worker_and_stops_on_sigint(tmp_path: Path) -> None:
    app_file = tmp_path / "app.py"
    app_file.write_text(APP.format(url=f"sqlite:///{tmp_path}/cli.db"))
    port = free_port()
    env = {k: v for k, v in os.environ.items() if k != "CONVEYOR_TOKEN"}
    proc = subprocess.Popen(
        [sys.executable, "-c", "from conveyor.cli import main; main()", "dashboard",
         str(app_file), "--port", str(port), "--with-worker"],
        env=env, stderr=subprocess.PIPE, text=True,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 20
        while True:
            try:
                httpx.get(base + "/api/counts", timeout=1)
                break
            except httpx.TransportError:
                assert proc.poll() is None and time.monotonic() < deadline, "never served"
                time.sleep(0.1)
        run = httpx.post(base + "/api/jobs/double/run", json={"payload": 21}).json()
        while (detail := httpx.get(f"{base}/api/runs/{run['id']}").json())["state"] not in (
                "completed", "failed"):
            assert time.monotonic() < deadline, detail
            time.sleep(0.1)
        assert detail["result"] == 42
    finally:
        proc.send_signal(signal.SIGINT)
        _, stderr = proc.communicate(timeout=30)
    assert proc.returncode == 0, stderr
    assert f"conveyor dashboard on http://127.0.0.1:{port}/" in stderr
