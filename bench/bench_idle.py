"""What idle workers cost the store: transactions, store calls and row changes per minute.

Usage: python bench/bench_idle.py [--pg ADMIN_URL] [--server-log PATH] [--sqlite]
                                  [--workers 1,4,8] [--seconds 30] [--verbose]

For 1, 4 and 8 idle worker processes (nothing queued) on a fresh store, from 5 s after
the last one registered:

* store calls/min — every public store method call in the workers, counted in-process
  (the same figure on every store; ``--verbose`` lists them by method);
* PostgreSQL, transactions/min — counted from the server's statement log (``--server-log``,
  readable by this user, e.g. /var/log/postgresql/postgresql-15-main.log; the scratch
  database gets ``log_statement = all``): an autocommit statement or a BEGIN..COMMIT block
  is one transaction. This is what the workers make the server do;
* PostgreSQL, ``pg_stat_database`` xact_commit + xact_rollback and tup_inserted + updated +
  deleted over the same window. xact_commit also counts the empty transactions an idle
  connection runs to catch up with catalog changes made anywhere on the server (sinval
  catch-up: other databases' CREATE/DROP), so on a shared server it grows with the number
  of open connections and other people's DDL, not with what the workers do.

Workers run ``bench/idle_worker.py`` with PYTHONPATH as given (run with another checkout's
path first for a before/after in one session).
"""

from __future__ import annotations

import argparse
import collections
import glob
import json
import os
import re
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
WARMUP = 5.0  # seconds after the last worker registered
LINE = re.compile(r"^\S+ \S+ \S+ \[(\d+)\] \S+@(\S+) LOG:  (?:statement|execute [^:]*): (.*)$")


def store_calls(folder: str) -> collections.Counter[str]:
    """The workers' store calls so far (each worker dumps its counts every 0.25 s)."""
    total: collections.Counter[str] = collections.Counter()
    for path in glob.glob(os.path.join(folder, "*.json")):
        try:
            with open(path) as f:
                total.update(json.load(f))
        except (OSError, ValueError):  # being rewritten: the next read has it
            pass
    return total


def logged_transactions(text: str, db: str) -> collections.Counter[str]:
    """Transactions in a slice of the server log, by their first statement."""
    out: collections.Counter[str] = collections.Counter()
    open_block: dict[str, bool] = {}
    for line in text.splitlines():
        m = LINE.match(line)
        if m is None or m.group(2) != db:
            continue
        pid, statement = m.group(1), " ".join(m.group(3).split())
        word = statement.split(" ", 1)[0].upper()
        if word in ("COMMIT", "ROLLBACK", "END"):
            open_block.pop(pid, None)
        elif not open_block.get(pid):
            out[statement[:90]] += 1
            if word in ("BEGIN", "START"):
                open_block[pid] = True
    return out


class Postgres:
    def __init__(self, admin: str, server_log: str | None) -> None:
        import psycopg

        self.psycopg = psycopg
        self.admin = admin
        self.log = server_log if server_log and os.access(server_log, os.R_OK) else None

    def create(self) -> str:
        self.db = f"conveyor_idle_{uuid.uuid4().hex[:8]}"
        with self.psycopg.connect(self.admin, autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{self.db}"')
            if self.log:
                conn.execute(f"ALTER DATABASE \"{self.db}\" SET log_statement = 'all'")
        return self.admin.rsplit("/", 1)[0] + f"/{self.db}"

    def snapshot(self) -> tuple[int, int, int]:
        with self.psycopg.connect(self.admin, autocommit=True) as conn:
            conn.execute("SELECT pg_stat_clear_snapshot()")
            row = conn.execute(
                "SELECT xact_commit + xact_rollback, tup_inserted + tup_updated + tup_deleted "
                "FROM pg_stat_database WHERE datname = %s", (self.db,)).fetchone()
        size = os.path.getsize(self.log) if self.log else 0
        return int(row[0]), int(row[1]), size

    def logged(self, start: int, end: int) -> collections.Counter[str] | None:
        if not self.log:
            return None
        with open(self.log, "rb") as f:
            f.seek(start)
            text = f.read(end - start).decode(errors="replace")
        return logged_transactions(text, self.db)

    def drop(self) -> None:
        with self.psycopg.connect(self.admin, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{self.db}" WITH (FORCE)')


def measure(url: str, workers: int, seconds: float, pg: Postgres | None) -> dict[str, Any]:
    folder = tempfile.mkdtemp(prefix="conveyor-idle-")
    env = dict(os.environ, CONVEYOR_URL=url, IDLE_COUNTS=folder)
    # In another folder: ``python -c`` puts the current one first on sys.path.
    subprocess.run([sys.executable, "-c", "import sys; from conveyor import Conveyor; "
                    "Conveyor(sys.argv[1]).close()", url], check=True, env=env, cwd=folder)
    procs = [subprocess.Popen([sys.executable, str(HERE / "idle_worker.py")], env=env,
                              cwd=folder) for _ in range(workers)]
    try:
        started = time.monotonic()  # all registered (slow to start on a loaded machine)
        while store_calls(folder)["register_worker"] < workers:
            if time.monotonic() - started > 120:
                raise RuntimeError("the workers did not start within 120 s")
            time.sleep(0.2)
        time.sleep(WARMUP)
        c0, s0 = store_calls(folder), pg.snapshot() if pg else None
        time.sleep(seconds)
        c1, s1 = store_calls(folder), pg.snapshot() if pg else None
    finally:
        for p in procs:
            p.terminate()
        for p in procs:
            p.wait()
    scale = 60.0 / seconds
    calls = {k: (c1[k] - c0[k]) * scale for k in c1 if c1[k] != c0[k]}
    result: dict[str, Any] = {"calls": calls}
    if pg and s0 and s1:
        result["xact"] = (s1[0] - s0[0]) * scale
        result["rows"] = (s1[1] - s0[1]) * scale
        logged = pg.logged(s0[2], s1[2])
        if logged is not None:
            result["tx"] = {k: v * scale for k, v in logged.items()}
    return result


def report(store: str, workers: int, r: dict[str, Any], verbose: bool) -> None:
    calls = sum(r["calls"].values())
    line = f"{store} {workers} idle: {calls:.0f} store calls/min"
    if "tx" in r:
        tx = sum(r["tx"].values())
        line += f", {tx:.0f} transactions/min ({tx / 60 / workers:.2f}/s per worker)"
    if "xact" in r:
        line += f", pg_stat xact {r['xact']:.0f}/min, {r['rows']:.0f} row changes/min"
    print(line, flush=True)
    if verbose:
        for name, n in sorted(r["calls"].items(), key=lambda i: -i[1]):
            print(f"    {n:7.0f}/min  {name}")
        for text, n in sorted(r.get("tx", {}).items(), key=lambda i: -i[1])[:15]:
            print(f"    {n:7.0f}/min  tx: {text}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--pg", default="postgresql://postgres@127.0.0.1:5432/postgres",
                        help="admin URL of a PostgreSQL server ('' to skip PostgreSQL)")
    parser.add_argument("--server-log", default=None,
                        help="the PostgreSQL server's log file (for transactions/min)")
    parser.add_argument("--sqlite", action="store_true", help="measure SQLite too")
    parser.add_argument("--workers", default="1,4,8")
    parser.add_argument("--seconds", type=float, default=30.0)
    parser.add_argument("--verbose", action="store_true")
    args = parser.parse_args()
    counts = [int(n) for n in args.workers.split(",")]
    if args.pg:
        pg = Postgres(args.pg, args.server_log)
        for n in counts:
            url = pg.create()
            try:
                report("PostgreSQL", n, measure(url, n, args.seconds, pg), args.verbose)
            finally:
                pg.drop()
    if args.sqlite:
        for n in counts:
            url = f"sqlite:///{tempfile.mkdtemp(prefix='conveyor-idle-')}/idle.db"
            report("SQLite", n, measure(url, n, args.seconds, None), args.verbose)


if __name__ == "__main__":
    main()
