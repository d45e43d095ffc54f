"""A worker survives its PostgreSQL server restarting (a private server on a spare port)."""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from conveyor.errors import StoreError
from tests.postgres.helpers import start_worker, stop_workers
from tests.postgres.workerapp import make_app
from tests.support import fail_in_ci_else_skip, free_port

pytestmark = [pytest.mark.postgres, pytest.mark.slow]


def _bindir() -> Path | None:
    found = shutil.which("pg_config")
    if found:
        out = subprocess.run([found, "--bindir"], capture_output=True, text=True)
        if out.returncode == 0 and (Path(out.stdout.strip()) / "initdb").exists():
            return Path(out.stdout.strip())
    candidates = sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"))
    return candidates[-1].parent if candidates else None


class Server:
    """A throwaway PostgreSQL cluster (run as the postgres user when we are root)."""

    def __init__(self, root: Path, bindir: Path) -> None:
        self.data = root / "data"
        self.bindir = bindir
        self.port = free_port()
        self.prefix = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
        if self.prefix:
            shutil.chown(root, "postgres")
        self._run("initdb", "-D", str(self.data), "-A", "trust", "-U", "postgres", "--no-sync")
        self.url = f"postgresql://postgres@127.0.0.1:{self.port}/postgres?schema=restart"

    def _run(self, tool: str, *args: str) -> None:
        subprocess.run([*self.prefix, str(self.bindir / tool), *args], check=True,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=60)

    def start(self) -> None:
        options = f"-p {self.port} -k {self.data} -c listen_addresses=127.0.0.1 -c fsync=off"
        self._run("pg_ctl", "-D", str(self.data), "-o", options, "-w", "start")

    def stop(self) -> None:
        self._run("pg_ctl", "-D", str(self.data), "-m", "fast", "-w", "stop")


@pytest.fixture
def server() -> Iterator[Server]:
    bindir = _bindir()
    if bindir is None:
        fail_in_ci_else_skip(
            "PostgreSQL server binaries (initdb, pg_ctl) are required in CI",
            "PostgreSQL server binaries (initdb, pg_ctl) not found",
        )
    root = Path(tempfile.mkdtemp(prefix="conveyor-pg-"))  # reachable by the postgres user
    srv = Server(root, bindir)
    srv.start()
    try:
        yield srv
    finally:
        subprocess.run([*srv.prefix, str(bindir / "pg_ctl"), "-D", str(srv.data), "-m",
                        "immediate", "stop"], capture_output=True)
        shutil.rmtree(root, ignore_errors=True)


def test_worker_resumes_within_seconds_after_the_server_restarts(server: Server) -> None:
    app = make_app(server.url)
    worker = start_worker(server.url, concurrency=4)
    try:
        first = app.jobs["noop"]().run_now()
        assert first.result(timeout=15) is None
        server.stop()
        time.sleep(1.5)  # the worker keeps trying meanwhile, backing off (4 tries)
        assert worker.poll() is None, "the worker exited while the database was down"
        server.start()
        restarted = time.monotonic()
        handle = None
        while handle is None:
            try:
                handle = app.jobs["noop"]().run_now()
            except StoreError:  # this process's pooled connection died with the server
                time.sleep(0.1)
        assert handle.result(timeout=10) is None
        assert time.monotonic() - restarted < 10
    finally:
        stop_workers([worker])
        app.close()
    assert worker.returncode == 0
    errors = worker.stderr.read().decode() if worker.stderr else ""
    assert "Traceback" not in errors
