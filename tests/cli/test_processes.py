"""``conveyor worker APP --processes N``: a supervisor of N worker processes."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path

from conveyor import Conveyor, JobHandle
from conveyor.cli.supervise import child_arguments
from tests.support import start_cli_worker, wait_for

APP = textwrap.dedent(
    """
    import os, time
    from conveyor import Conveyor

    app = Conveyor()

    @app.job
    def where(seconds):
        time.sleep(seconds)
        return os.getpid()
    """
)


def start(tmp_path: Path, url: str, *args: str) -> subprocess.Popen[str]:
    return start_cli_worker(tmp_path, "procapp.py", APP, url, *args)


def test_child_arguments_drop_processes() -> None:
    argv = ["conveyor", "worker", "app.py", "--processes", "3", "-c", "5", "--processes=2"]
    assert child_arguments(argv) == ["worker", "app.py", "-c", "5"]
    assert child_arguments(["flask", "conveyor"]) is None
    argv = ["conveyor", "--url", "sqlite:///x.db", "--app=a.py", "worker", "-p", "2", "--burst"]
    assert child_arguments(argv) == ["worker", "--url", "sqlite:///x.db", "--app=a.py", "--burst"]


def test_processes_run_jobs_restart_a_dead_worker_and_stop_gracefully(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/jobs.db"
    app = Conveyor(url)
    supervisor = start(tmp_path, url, "--processes", "2", "--concurrency", "2")
    try:
        wait_for(lambda: len(app.store.workers(60)) == 2, 30, "two worker processes")
        pids = {w.pid for w in app.store.workers(60)}
        assert supervisor.pid not in pids
        victim = sorted(pids)[0]
        os.kill(victim, signal.SIGKILL)
        wait_for(lambda: {w.pid for w in app.store.workers(60)} - pids, 30,
                 "a restarted worker process")
        supervisor.send_signal(signal.SIGINT)  # one graceful shutdown of every worker
        assert supervisor.wait(30) == 0
        wait_for(lambda: {w.pid for w in app.store.workers(60)} <= {victim}, 10,
                 "every live worker to unregister")
    finally:
        if supervisor.poll() is None:
            supervisor.kill()
        app.close()
    _, err = supervisor.communicate()
    assert "supervising 2 processes" in err
    assert "restarting in" in err


def test_burst_processes_exit_when_the_work_is_done(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/jobs.db"
    (tmp_path / "procapp.py").write_text(APP)
    supervisor = start(tmp_path, url, "--processes", "2", "--burst")
    assert supervisor.wait(60) == 0


@contextlib.contextmanager
def _supervised(tmp_path: Path, grace: str, seconds: float
                ) -> Iterator[tuple[Conveyor, subprocess.Popen[str], JobHandle]]:
    """Two supervised worker processes running a job of ``seconds``: (the app, the
    supervisor, the running job's handle); whatever is left is killed afterwards."""
    url = f"sqlite:///{tmp_path}/jobs.db"
    app = Conveyor(url)
    supervisor = start(tmp_path, url, "--processes", "2", "--grace", grace)
    try:
        wait_for(lambda: len(app.store.workers(60)) == 2, 30, "two worker processes")
        h = app.job("where")(lambda seconds: None)(seconds).run_now()  # the workers' job
        wait_for(lambda: h.state == "running", 30, "the job to start")
        yield app, supervisor, h
    finally:
        if supervisor.poll() is None:
            supervisor.kill()
        for worker in app.store.workers(60):
            with contextlib.suppress(ProcessLookupError):
                os.kill(worker.pid, signal.SIGKILL)
        app.close()


def test_workers_stop_gracefully_when_their_supervisor_is_killed(tmp_path: Path) -> None:
    with _supervised(tmp_path, "5", 0.5) as (app, supervisor, h):
        supervisor.kill()  # kill -9: no signal is forwarded; orphans must not run on
        supervisor.wait(10)
        wait_for(lambda: not app.store.workers(60), 30, "the orphaned workers to stop")
        assert h.state == "completed"  # stopped gracefully: the running job finished


def test_a_signal_to_every_process_at_once_still_lets_running_jobs_finish(
    tmp_path: Path,
) -> None:
    with _supervised(tmp_path, "30", 1.0) as (app, supervisor, h):
        # systemd's stop signals every process of the service; the supervisor forwards
        # its signal too: one request to stop, not a second signal ("stop now").
        for worker in app.store.workers(60):
            os.kill(worker.pid, signal.SIGTERM)
        time.sleep(0.3)  # the workers have their signal before the supervisor's comes
        supervisor.send_signal(signal.SIGTERM)
        assert supervisor.wait(30) == 0
        assert h.state == "completed"


def test_a_second_signal_to_the_supervisor_stops_its_workers_at_once(tmp_path: Path) -> None:
    with _supervised(tmp_path, "60", 60) as (_, supervisor, h):
        supervisor.send_signal(signal.SIGTERM)
        time.sleep(0.3)  # handled before the second comes
        supervisor.send_signal(signal.SIGTERM)
        assert supervisor.wait(30) == 0, supervisor.communicate()[1]  # far within grace
        assert h.state == "queued"  # released
