"""``conveyor worker`` as a real process: runs jobs, honours --queues and SIGTERM --grace."""

from __future__ import annotations

import signal
import subprocess
import textwrap
import time
from pathlib import Path

from conveyor import Conveyor
from tests.support import start_cli_worker

SLOW_APP = textwrap.dedent(
    """
    import time
    from conveyor import Conveyor

    app = Conveyor()

    @app.job
    def nap(seconds):
        time.sleep(seconds)
        return seconds

    @app.job(queue="other")
    def elsewhere():
        return "other queue"
    """
)


def start_worker(tmp_path: Path, url: str, *args: str) -> subprocess.Popen[str]:
    return start_cli_worker(tmp_path, "slowapp.py", SLOW_APP, url, *args)


def wait_for_state(app: Conveyor, job_id: int, state: str, timeout: float = 10) -> None:
    deadline = time.monotonic() + timeout
    while app.get_job(job_id).state != state:  # type: ignore[union-attr]
        assert time.monotonic() < deadline, f"job {job_id} never became {state}"
        time.sleep(0.02)


def enqueue(tmp_path: Path, url: str, job: str, *args: object) -> tuple[Conveyor, int]:
    app = Conveyor(url)
    app.job(job)(lambda *a: None)
    if job == "elsewhere":
        return app, app.jobs[job](*args).run_now(queue="other").id
    return app, app.jobs[job](*args).run_now().id


def test_sigterm_lets_running_jobs_finish_within_grace(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/w.db"
    app, job_id = enqueue(tmp_path, url, "nap", 1.0)
    worker = start_worker(tmp_path, url, "--grace", "10", "--queues", "default")
    try:
        wait_for_state(app, job_id, "running")
        worker.send_signal(signal.SIGTERM)
        assert worker.wait(timeout=15) == 0
    finally:
        worker.kill()
    record = app.get_job(job_id)
    log = worker.stderr.read()  # type: ignore[union-attr]
    assert record is not None and record.state == "completed" and record.result == 1.0, log
    app.close()


def test_sigterm_releases_jobs_still_running_after_grace(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/w.db"
    app, job_id = enqueue(tmp_path, url, "nap", 30)
    other_app, other_id = enqueue(tmp_path, url, "elsewhere")
    worker = start_worker(tmp_path, url, "--grace", "0.2", "--queues", "default")
    try:
        wait_for_state(app, job_id, "running")
        started = time.monotonic()
        worker.send_signal(signal.SIGTERM)
        assert worker.wait(timeout=25) == 0
        assert time.monotonic() - started < 20  # not the 30 s nap: released after grace
    finally:
        worker.kill()
    assert app.get_job(job_id).state == "queued"  # type: ignore[union-attr]
    assert app.get_job(other_id).state == "queued"  # type: ignore[union-attr]  # not its queue
    app.close()
    other_app.close()
