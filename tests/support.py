"""Helpers shared by the test folders (import as ``tests.support``)."""

from __future__ import annotations

import contextlib
import http.server
import json
import os
import re
import socket
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any, NoReturn

import pytest

from conveyor.testing.conformance.helpers import wait_for  # noqa: F401  (re-exported)

ROOT = Path(__file__).resolve().parents[1]
_DATETIME_TEXT = re.compile(r"\d{4}-\d\d-\d\d[T ]\d\d:")

#: Databases being dropped by a detached process (kept so their Popen is never collected).
_DROPPING: list[subprocess.Popen[bytes]] = []

_DROP = """
import sys
import psycopg
with psycopg.connect(sys.argv[1], autocommit=True, connect_timeout=10) as conn:
    conn.execute('DROP DATABASE IF EXISTS "%s" WITH (FORCE)' % sys.argv[2])
"""


def drop_database_later(admin_url: str, name: str) -> None:
    """Drop the throwaway database ``name`` in a detached process: PostgreSQL 15 takes an
    immediate checkpoint for DROP DATABASE (1 s on a quiet server, 10-40 s on a busy one)
    and no test needs to wait for it."""
    _DROPPING.append(subprocess.Popen(
        [sys.executable, "-c", _DROP, admin_url, name], start_new_session=True,
        stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    ))


def fail_in_ci_else_skip(ci_message: str, local_message: str) -> NoReturn:
    """A missing service FAILS the test when ``CI`` is set; elsewhere it skips it."""
    if os.environ.get("CI"):
        pytest.fail(ci_message)
    pytest.skip(local_message)


def store_url(
    kind: str, request: pytest.FixtureRequest, folder: object, filename: str = "conveyor.db",
    *, migrated: bool = False,
) -> str:
    """The URL of an empty store of ``kind`` (memory, sqlite or postgres). ``migrated``: on
    PostgreSQL, a schema of the pool an earlier test left migrated (``pg_store``: worker
    processes then skip migrating a new schema, several times 0.1 s on a busy machine)."""
    if kind == "memory":
        return "memory://"
    if kind == "sqlite":
        return f"sqlite:///{folder}/{filename}"
    return str(request.getfixturevalue("pg_store" if migrated else "pg_url"))


def start_cli_worker(
    folder: Path, app_file: str, source: str, url: str, *args: str
) -> subprocess.Popen[str]:
    """Write ``source`` to ``folder/app_file`` and start ``conveyor worker app_file *args``
    there on ``url`` (other ``CONVEYOR_*`` variables dropped), stdout/stderr piped."""
    (folder / app_file).write_text(source)
    env = {k: v for k, v in os.environ.items() if not k.startswith("CONVEYOR_")}
    env["CONVEYOR_URL"] = url
    return subprocess.Popen(
        [sys.executable, "-c", "from conveyor.cli import main; main()", "worker",
         app_file, *args],
        cwd=folder, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )


def overwrite(app: Any, table: str, row_id: object, *, key: str = "id",
              **values: object) -> None:
    """Set columns of the stored rows whose ``key`` is ``row_id`` by hand, as other
    software (or an older version, or a person with a SQL prompt) could: no check of what
    they hold. ``table``: ``jobs``, ``schedules``, ``steps``, ``events``; JSON columns get
    the text as it is (jsonb: cast)."""
    store = app.store
    d = store.d
    postgres = type(store).__name__.startswith("Postgres")
    jsonb = {"payload", "history"} if postgres and table == "jobs" else set()
    sets = ", ".join(f"{name} = {d.mark(name, 'jsonb' if name in jsonb else '')}"
                     for name in values)
    with d.writing() as conn:
        conn.execute(f"UPDATE conveyor_{table} SET {sets} WHERE {key} = {d.mark('row_id')}",
                     {**values, "row_id": row_id})


@contextlib.contextmanager
def memory_spans() -> Iterator[Any]:
    """Spans recorded to memory (an ``InMemorySpanExporter``) for the block, tracing off
    again after it: the OpenTelemetry API sets a process's provider only once, so a test
    setting its own for good would trace every test after it in that process."""
    from opentelemetry import trace
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    before = trace._TRACER_PROVIDER
    trace._TRACER_PROVIDER_SET_ONCE._done = False
    trace.set_tracer_provider(provider)
    try:
        yield exporter
    finally:
        trace._TRACER_PROVIDER = before
        trace._TRACER_PROVIDER_SET_ONCE._done = before is not None
        provider.shutdown()


class JsonHandler(http.server.BaseHTTPRequestHandler):
    """A local test server's request handler: answers JSON, logs nothing."""

    def send_json(self, status: int, data: Any, headers: dict[str, str] | None = None) -> None:
        raw = json.dumps(data).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(raw)))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(raw)

    def log_message(self, *args: Any) -> None:
        pass


@contextlib.contextmanager
def serving(handler: type[http.server.BaseHTTPRequestHandler]) -> Iterator[str]:
    """``handler`` served on a free loopback port for the block: yields ``host:port``."""
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, args=(0.02,), daemon=True)
    thread.start()
    try:
        yield f"127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)


def datetime_strings(value: Any) -> list[str]:
    """Every string in ``value`` (JSON: dicts and lists, nested) that starts as a date-time
    does ("2031-06-01T00:30…", or with a space for the T)."""
    if isinstance(value, dict):
        return [t for v in value.values() for t in datetime_strings(v)]
    if isinstance(value, list):
        return [t for v in value for t in datetime_strings(v)]
    return [value] if isinstance(value, str) and _DATETIME_TEXT.match(value) else []


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on now (bound and released)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def queue_behind_first(threads: list[threading.Thread], group: Any, calls: list[int],
                       go: threading.Event) -> None:
    """Start ``threads`` (callers of a group commit) one by one, each once the one before
    it queued behind the first caller's batch (held by ``go``, counted by ``calls``),
    then release that batch and wait for all to come back."""
    import time

    threads[0].start()
    deadline = time.monotonic() + 10
    for queued, thread in enumerate(threads[1:], 1):
        thread.start()
        while calls[0] < 1 or len(group.waiting) < queued:
            assert time.monotonic() < deadline, "the callers never queued"
            time.sleep(0.001)
    go.set()
    for thread in threads:
        thread.join(10)
    assert not any(t.is_alive() for t in threads), "a caller waits for ever"
