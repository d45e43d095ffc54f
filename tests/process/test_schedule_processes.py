"""Three worker processes share a 1-second schedule for four occurrences: each one is
stored once, runs once, and is linked to the previous one by ``rescheduled_from``
(SPEC §6); processes starting at once on a new store (a new SQLite file: every migration
applied once) declare each schedule once and store each trigger (§1, §6). On one SQLite
file and on PostgreSQL."""

from __future__ import annotations

import itertools
import os
import sqlite3
import subprocess
import sys
import textwrap
from collections import Counter
from contextlib import closing
from datetime import timedelta
from pathlib import Path

import pytest

from conveyor import Conveyor
from conveyor.stores.sqlite.schema import MIGRATIONS
from tests.support import store_url

from .helpers import AT_THE_GATE, ROOT, open_gate, running, wait_until, worker_logs

pytestmark = pytest.mark.slow

APP = textwrap.dedent(
    """
    import os
    import time

    from conveyor import Conveyor

    app = Conveyor(os.environ["CONVEYOR_URL"], lease=2)

    @app.job(trigger=app.every("1 second"))
    def tick(meta):
        fd = os.open(os.environ["LEDGER"], os.O_WRONLY | os.O_APPEND | os.O_CREAT)
        os.write(fd, f"{meta.job.id} {os.getpid()} {time.time()}\\n".encode())
        os.close(fd)

    if __name__ == "__main__":
        app.run_worker(concurrency=4)
    """
)


def test_three_workers_run_each_occurrence_of_a_one_second_schedule_once(
    url: str, tmp_path: Path,
) -> None:
    app_file = tmp_path / "tickapp.py"
    app_file.write_text(APP)
    ledger = tmp_path / "ledger"
    env = dict(os.environ, CONVEYOR_URL=url, LEDGER=str(ledger), PYTHONPATH=str(ROOT))
    workers = []
    for n in range(3):
        log = open(tmp_path / f"worker-{n}.log", "wb")  # noqa: SIM115 - kept by Popen
        workers.append(subprocess.Popen([sys.executable, str(app_file)], env=env, cwd=tmp_path,
                                        stdout=log, stderr=subprocess.STDOUT))
    def ticks() -> list[list[str]]:
        return [line.split() for line in ledger.read_text().splitlines()] if ledger.exists() \
            else []

    # Four occurrences, run by two processes at least (one a second once started).
    with running(workers, tmp_path):
        wait_until(lambda: len(ticks()) >= 4 and len({t[1] for t in ticks()}) >= 2, 40,
                   "four occurrences run by two processes", tmp_path)

    with Conveyor(url) as app:
        found = app.jobs_list(schedule_id="tick", newest_first=False, limit=1000)
        [schedule] = app.schedules()
    ran = Counter(int(line.split()[0]) for line in ledger.read_text().splitlines())
    done = [r for r in found if r.state == "completed"]
    assert [i for i, n in ran.items() if n > 1] == [], "an occurrence ran twice"
    assert set(ran) == {r.id for r in done}, worker_logs(tmp_path)
    assert len(done) >= 4, f"only {len(done)} occurrences completed"
    assert len({r.run_at for r in found}) == len(found), "an occurrence was stored twice"
    assert [r.rescheduled_from for r in found[1:]] == [r.id for r in found[:-1]]
    steps = [b.run_at - a.run_at for a, b in itertools.pairwise(found)]
    assert all(s >= timedelta(seconds=1) and not s.microseconds for s in steps)
    # A claim later than a second (a busy machine) skips to the next fire time after now.
    assert sum(s > timedelta(seconds=1) for s in steps) <= 2, f"occurrences skipped: {steps}"
    left = [r.state for r in found if r.state != "completed"]  # the next one (a released one)
    assert len(left) <= 2 and set(left) <= {"scheduled", "queued"}, left
    assert schedule.last_run is not None and schedule.last_run.id == done[-1].id


STARTING = "import sys\nfrom conveyor import Conveyor\n" + AT_THE_GATE + textwrap.dedent(
    """
    app = Conveyor(sys.argv[1])  # creates or migrates the store, as the others do now

    @app.job(trigger=app.cron("0 3 * * *"))
    def nightly(): ...

    @app.job(trigger=app.every("90 minutes"))  # counted from when it is first stored
    def often(): ...

    @app.job(trigger=app.event("deployed"))
    def announce(payload): ...

    @app.job
    def opened(): ...

    opened().run_now()  # one each
    app.send_event("deployed", {"version": 2}, id="deploy-2")
    app.run_worker(burst=True)
    app.close()
    """
)


@pytest.fixture(params=["sqlite", "postgres"])
def new_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A store not created yet (``url`` may be a migrated PostgreSQL schema)."""
    return store_url(request.param, request, tmp_path, "jobs.db")


def test_processes_starting_at_once_on_a_new_store_store_everything_once(
    new_url: str, tmp_path: Path,
) -> None:
    url = new_url
    gate = tmp_path / "gate"
    env = dict(os.environ, PYTHONPATH=str(ROOT), CONVEYOR_TEST_GATE=str(gate))
    procs = [subprocess.Popen([sys.executable, "-c", STARTING, url], env=env,
                              cwd=tmp_path, stderr=subprocess.PIPE, text=True)
             for _ in range(6)]
    open_gate(gate, procs)
    errors = [p.communicate(timeout=120)[1] for p in procs]
    assert [p.returncode for p in procs] == [0] * 6, errors
    with Conveyor(url) as app:
        assert sorted(s.id for s in app.schedules() if s.source == "code") == [
            "nightly", "often"]
        for job in ("nightly", "often"):
            assert [r.state for r in app.jobs_list(job=job)] == ["scheduled"], job
        event = app.get_event("deploy-2")
        assert event is not None and len(event.runs) == 1
        assert [r.state for r in app.jobs_list(job="announce")] == ["completed"]
        assert app.count(job="opened", state="completed") == 6
    if url.startswith("sqlite"):  # every migration applied, once
        with closing(sqlite3.connect(url.removeprefix("sqlite:///"))) as conn:
            assert conn.execute("PRAGMA user_version").fetchone()[0] == len(MIGRATIONS)
