"""``conveyor dashboard APP --with-worker`` in a real process: serves, runs jobs, stops."""

from __future__ import annotations

import signal
import subprocess
import threading
import time
from pathlib import Path

import httpx

from tests.dashboard.helpers import first_answer, start_dashboard
from tests.support import free_port

APP = """
from conveyor import Conveyor
app = Conveyor({url!r})

@app.job
def double(n):
    return n * 2
"""


def test_dashboard_command_serves_with_a_worker_and_stops_on_sigint(tmp_path: Path) -> None:
    app_file = tmp_path / "app.py"
    app_file.write_text(APP.format(url=f"sqlite:///{tmp_path}/cli.db"))
    port = free_port()
    proc = start_dashboard(app_file, "--port", str(port))
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 20
        first_answer(proc, base + "/api/counts", deadline)
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


SLOW_APP = """
import time
from conveyor import Conveyor
app = Conveyor({url!r})

@app.job
def nap(seconds):
    time.sleep(seconds)
    return seconds
"""


def _serve_with_a_running_nap(tmp_path: Path, grace: str) -> tuple[subprocess.Popen[str], int]:
    from conveyor import Conveyor

    url = f"sqlite:///{tmp_path}/slow.db"
    (tmp_path / "slow.py").write_text(SLOW_APP.format(url=url))
    with Conveyor(url) as app:
        app.job("nap")(lambda seconds: seconds)
        job_id = app.jobs["nap"](60).run_now().id
    proc = start_dashboard(tmp_path / "slow.py", "--port", str(free_port()), "--grace", grace)
    with Conveyor(url) as app:
        deadline = time.monotonic() + 20
        while app.get_job(job_id).state != "running":  # type: ignore[union-attr]
            assert proc.poll() is None and time.monotonic() < deadline, "never started"
            time.sleep(0.05)
    return proc, job_id


def _released(tmp_path: Path, job_id: int) -> None:
    from conveyor import Conveyor

    with Conveyor(f"sqlite:///{tmp_path}/slow.db") as app:
        record = app.get_job(job_id)
        assert record is not None and record.state == "queued"  # another worker takes it now
        assert record.attempts == 0 and record.lease_expires_at is None


def test_sigterm_stops_a_dashboard_worker_within_its_grace_and_releases_the_job(
    tmp_path: Path,
) -> None:
    proc, job_id = _serve_with_a_running_nap(tmp_path, grace="1")
    started = time.monotonic()
    proc.send_signal(signal.SIGTERM)
    _, stderr = proc.communicate(timeout=30)
    assert time.monotonic() - started < 15, stderr  # not the 60 s job, nor a lease
    assert proc.returncode == 0, stderr
    _released(tmp_path, job_id)


def _stderr_until(proc: subprocess.Popen[str], text: str, timeout: float = 30) -> str:
    """``proc``'s stderr up to the first line containing ``text`` (fails after timeout)."""
    lines: list[str] = []
    seen = threading.Event()

    def read() -> None:
        for line in proc.stderr or ():
            lines.append(line)
            if text in line:
                seen.set()
                return

    threading.Thread(target=read, daemon=True).start()
    assert seen.wait(timeout), f"no {text!r} in {''.join(lines)!r}"
    return "".join(lines)


def test_a_second_ctrl_c_stops_a_dashboard_worker_now(tmp_path: Path) -> None:
    proc, job_id = _serve_with_a_running_nap(tmp_path, grace="300")
    proc.send_signal(signal.SIGINT)
    # The second Ctrl-C once the first is answered, as a person would (a fixed second was
    # too short for the server to stop on a loaded machine).
    shown = _stderr_until(proc, "Ctrl-C again to stop now")
    assert proc.poll() is None  # waiting for the running job, up to --grace
    started = time.monotonic()
    proc.send_signal(signal.SIGINT)
    _, rest = proc.communicate(timeout=30)
    assert time.monotonic() - started < 15, shown + rest
    assert "stopping now" in rest, shown + rest
    _released(tmp_path, job_id)


def test_a_token_lets_the_dashboard_bind_beyond_loopback_and_guards_the_api(
    tmp_path: Path,
) -> None:
    app_file = tmp_path / "app.py"
    app_file.write_text(APP.format(url=f"sqlite:///{tmp_path}/open.db"))
    port = free_port()
    proc = start_dashboard(app_file, "--host", "0.0.0.0", "--port", str(port),
                           token="secret")  # short: served, with a warning
    base = f"http://127.0.0.1:{port}"
    try:
        refused = first_answer(proc, base + "/api/counts", time.monotonic() + 20)
        assert refused.status_code == 401
        assert "error" in refused.json()
        bearer = {"Authorization": "Bearer secret"}
        assert httpx.get(base + "/api/counts", headers=bearer).status_code == 200
    finally:
        proc.send_signal(signal.SIGINT)
        _, stderr = proc.communicate(timeout=30)
    assert proc.returncode == 0, stderr
    assert "6-character token; use at least 16" in stderr
