"""Blind tests of SPEC §7's `conveyor worker` flags and §11's worker logs and metrics port,
on SQLite and PostgreSQL (real processes where logging or signals matter)."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx

from conveyor import Conveyor
from tests.acceptance.blind_k.test_cli import lines
from tests.acceptance.blind_surface.support import _run_id, run_cli

WORKTREE = Path(__file__).resolve().parents[3]


def test_queues_flag_takes_only_those_queues(kapp: Path, url: str) -> None:
    slow = _run_id(run_cli("run", "<b>evil</b>"))
    other = _run_id(run_cli("run", "durable", "--payload", '{"n": 1}', "--queue", "q3"))
    fast = _run_id(run_cli("run", "durable", "--payload", '{"n": 2}'))
    result = run_cli("worker", str(kapp), "--burst", "--queues", "slow, default")
    assert result.exit_code == 0, result.output
    states = {row["id"]: row["state"] for row in lines("runs")}
    assert states[slow] == states[fast] == "completed"
    assert states[other] == "queued"


def _process(kapp: Path, *args: str) -> subprocess.Popen[str]:
    env = {k: v for k, v in os.environ.items() if k != "CONVEYOR_APP"}
    env["PYTHONPATH"] = str(WORKTREE)
    return subprocess.Popen(
        [sys.executable, "-m", "conveyor", "worker", str(kapp), *args],
        cwd=kapp.parent,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def test_json_logs_are_one_object_per_line_under_conveyor(kapp: Path, url: str) -> None:
    run_cli("run", "durable", "--payload", '{"n": 3}')
    run_cli("run", "boom", "--payload", '"\\u2028 new\\nline"')
    proc = _process(kapp, "--burst", "--log-format", "json", "--log-level", "debug")
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, err
    records = []
    for line in (out + err).splitlines():
        if line.startswith("{"):
            records.append(json.loads(line))
        else:
            assert "conveyor worker:" in line, line  # only the start banner may be text
    ours = [r for r in records if str(r["logger"]).startswith("conveyor")]
    outcomes = {r.get("outcome") for r in ours}
    assert {"started", "completed", "failed"} <= outcomes, ours
    completed = next(r for r in ours if r.get("outcome") == "completed")
    assert completed["job"] == "durable" and completed["duration"] >= 0
    failed = next(r for r in ours if r.get("outcome") == "failed")
    assert "boom <i>" in failed["message"] and failed["job"] == "boom"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_metrics_port_serves_prometheus_text_and_sigterm_exits_cleanly(
    kapp: Path, url: str
) -> None:
    port = _free_port()
    proc = _process(kapp, "--metrics-port", str(port), "--concurrency", "2")
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                answer = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=30)
                break
            except httpx.TransportError:
                assert proc.poll() is None and time.monotonic() < deadline, proc.stderr
                time.sleep(0.1)
        assert answer.status_code == 200
        assert "conveyor_workers_alive" in answer.text
        with Conveyor(url) as writer:
            job = writer.job("durable")(lambda payload, io: None)
            handle = job({"n": 4}).run_now()
            assert handle.result(timeout=30) == {"value": 8}
        text = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=30).text
        assert 'conveyor_attempts_completed_total{job="durable"} 1' in text.replace(".0", "")
    finally:
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, err
    assert "Traceback" not in err


def test_processes_keep_a_url_given_before_the_verb(kapp: Path, url: str) -> None:
    """Regression: `conveyor --url U worker APP -p 2` ran its workers on the app's own store."""
    run_id = _run_id(run_cli("run", "durable", "--payload", '{"n": 5}'))
    decoy = f"sqlite:///{kapp.parent}/decoy.db"
    env = {k: v for k, v in os.environ.items() if k != "CONVEYOR_APP"}
    env.update(PYTHONPATH=str(WORKTREE), BLIND_K_URL=decoy)
    command = [sys.executable, "-m", "conveyor", "--url", url, "worker", str(kapp)]
    done = subprocess.run(
        [*command, "-p", "2", "-c", "1", "--burst"],
        cwd=kapp.parent,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    assert "decoy" not in done.stderr + done.stdout
    with Conveyor(url) as reader:
        record = reader.get_job(run_id)
    assert record is not None and record.result == {"value": 10}


FLASK_SOURCE = """
import os
from flask import Flask
from conveyor import Conveyor
from conveyor.contrib.flask import init_app

app = Conveyor(os.environ["BLIND_K_URL"])
web = Flask(__name__)
init_app(web, app)
"""


def test_flask_worker_processes_are_refused_in_one_line(tmp_path: Path, url: str) -> None:
    """Regression: `flask conveyor worker -p 2` restarted app-less children forever."""
    (tmp_path / "k_flask.py").write_text(FLASK_SOURCE)
    env = {k: v for k, v in os.environ.items() if not k.startswith("CONVEYOR_")}
    env.update(PYTHONPATH=f"{WORKTREE}:{tmp_path}", BLIND_K_URL=url, FLASK_APP="k_flask:web")
    flask = str(Path(sys.executable).parent / "flask")
    done = subprocess.run(
        [flask, "conveyor", "worker", "-p", "2", "--burst"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode != 0
    assert done.stderr.strip().splitlines() == [
        "error: --processes works with the `conveyor worker` command"
    ]
