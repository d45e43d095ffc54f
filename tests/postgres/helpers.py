"""Helpers for PostgreSQL tests: worker subprocesses, direct SQL on the test schema."""

from __future__ import annotations

import os
import subprocess
import sys
from typing import Any

import psycopg

from conveyor.stores.postgres.connection import Settings
from tests.postgres.workerapp import EXECUTIONS
from tests.support import ROOT

__all__ = [
    "ROOT", "connect", "create_executions", "start_worker", "stop_workers", "terminate_sessions",
]


def connect(url: str) -> psycopg.Connection[Any]:
    """An autocommit connection whose search_path is the URL's schema."""
    settings = Settings.parse(url, {})
    return psycopg.connect(settings.conninfo, **settings.connect_kwargs())


def terminate_sessions(url: str) -> int:
    """pg_terminate_backend every other session on the database (a restart, as the
    workers see it)."""
    with connect(url) as conn:
        row = conn.execute(
            "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
            "WHERE datname = current_database() AND pid <> pg_backend_pid()"
        ).fetchone()
    return int(row[0]) if row else 0


def create_executions(url: str) -> None:
    with connect(url) as conn:
        conn.execute(EXECUTIONS)


def start_worker(url: str, concurrency: int = 10, lease: float = 1.0) -> subprocess.Popen[bytes]:
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    return subprocess.Popen(
        [sys.executable, "-m", "tests.postgres.workerapp", url, str(concurrency), str(lease)],
        cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
    )


def stop_workers(workers: list[subprocess.Popen[bytes]]) -> None:
    for w in workers:
        if w.poll() is None:
            w.terminate()
    for w in workers:
        try:
            w.wait(20)
        except subprocess.TimeoutExpired:
            w.kill()
            w.wait()
