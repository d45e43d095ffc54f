"""Helpers of the blind acceptance tests of SPEC §1-5 and §8."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from conveyor import (
    Conveyor,
    JobHandle,
    JobRecord,
)

START = datetime(2031, 1, 31, 23, 30, tzinfo=UTC)


UNITS = ("millisecond", "second", "minute", "hour", "day", "week", "month", "quarter",
         "year")


def record(app: Conveyor, handle: Any) -> JobRecord:
    """The record of a handle or of a job id."""
    found = app.get_job(handle.id if isinstance(handle, JobHandle) else handle)
    assert found is not None
    return found


def due(app: Conveyor, handle: Any) -> datetime:
    """The due time of a handle's (or a job id's) record, which must have one."""
    run_at = record(app, handle).run_at
    assert run_at is not None
    return run_at


def field(error: Any, name: str) -> Any:
    """A stored error's ``type``/``message``/``traceback``, whether an object or a dict."""
    return error[name] if isinstance(error, dict) else getattr(error, name)


def error_text(app: Conveyor, handle: JobHandle) -> str:
    error = record(app, handle).error
    assert error is not None
    return f"{field(error, 'type')}: {field(error, 'message')}"


def ok_or_value_error(trigger: Callable[[], JobHandle]) -> JobHandle | None:
    """Where SPEC is silent on a magnitude: stored as given, or one clear ValueError."""
    try:
        return trigger()
    except ValueError:
        return None


def in_threads(n: int, target: Callable[[int], Any]) -> list[Any]:
    """Run ``target(i)`` in ``n`` threads released at once; their results (or errors)."""
    barrier = threading.Barrier(n)
    results: list[Any] = [None] * n

    def run(i: int) -> None:
        barrier.wait()
        try:
            results[i] = target(i)
        except BaseException as exc:  # handed back to the test
            results[i] = exc

    threads = [threading.Thread(target=run, args=(i,)) for i in range(n)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    return results


WORKER_MODULE = '''
import os, time
from conveyor import Conveyor

app = Conveyor(os.environ["BLIND_URL"], lease=1)


@app.job
def stuck(name, meta):
    if meta.attempt == 1:
        open(os.path.join(os.environ["BLIND_MARKS"], name), "w").close()
        time.sleep(60)
    return meta.attempt
'''


def killed_while_running(store_url: str, tmp_path: Any, app: Conveyor,
                         names: list[str]) -> None:
    """Run ``stuck(name)`` for each of ``names`` in a worker process, kill it -9 while
    they run, and wait for their leases (1 s) to expire."""
    (tmp_path / "blind_worker.py").write_text(WORKER_MODULE)
    marks = tmp_path / "marks"
    marks.mkdir()
    env = {**os.environ, "BLIND_URL": store_url, "BLIND_MARKS": str(marks),
           "PYTHONPATH": os.pathsep.join([str(tmp_path), os.getcwd()])}
    worker = subprocess.Popen(
        [sys.executable, "-c", "import blind_worker; blind_worker.app.run_worker("
         f"concurrency={len(names)}, burst=True)"], env=env, cwd=tmp_path)
    try:
        deadline = time.monotonic() + 20
        while len(list(marks.iterdir())) < len(names):
            assert time.monotonic() < deadline and worker.poll() is None
            time.sleep(0.05)
        assert app.count(state="running") == len(names)
    finally:
        os.kill(worker.pid, signal.SIGKILL)
        worker.wait(10)
    time.sleep(1.5)


ODD_VALUES = ["", "😀\u2028\u2029\t\"\\'", 2**63, -(2**63) - 1, 10**30, 1e308, 5e-324, -0.5,
              [], {}, None, True, {"": {"": [None, [], {}]}}, "x" * 100_000,
              {"key with spaces and ü": ["日本語", "עברית"]}]
