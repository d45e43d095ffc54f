"""Does throughput hold as history grows? python bench/decay.py [--url URL] [--total N]

W worker processes (default worker flags unless --concurrency) run no-op jobs while this
script keeps a backlog of ``--chunk`` jobs stored (bulk) until ``--total`` jobs have
completed; finished rows stay in the table, so the last chunks run with ``--total`` rows
in it. It starts from an empty table (PostgreSQL: vacuumed too) and prints, every 10% of
the run, processed/s, the workers' CPU µs per job and their resident memory (VmRSS) (on
PostgreSQL also buffer accesses and server CPU per job: give it a database of its own);
then chunks 2-6 (the first includes the warm-up) against the last five with a full
backlog (not those once every job is stored, while the backlog drains).
"""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

from bench.bench import cpu_seconds, fresh, start_workers, stop, wait_ready  # noqa: E402


def rss_mib(pid: int) -> float:
    """Resident memory of one process (VmRSS from /proc), MiB."""
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0.0


def loadavg() -> str:
    with open("/proc/loadavg") as f:
        return " ".join(f.read().split()[:3])


def mean(values: list[float]) -> float:
    return sum(values) / len(values) if values else 0.0


class Server:
    """PostgreSQL's side (use a database of its own): shared-buffer accesses in this
    database and the CPU of its backends (from /proc; a vacuum's own backend is missed)."""

    def __init__(self, app: Any) -> None:
        self.db = app.store.db
        self.cpu: dict[int, float] = {}
        self.blocks = 0

    def sample(self) -> tuple[int, float]:
        """(buffer accesses, backend CPU seconds) since the last sample."""
        with self.db.connection() as conn:
            conn.execute("SELECT pg_stat_force_next_flush()")
            (blocks,) = conn.execute(
                "SELECT blks_hit + blks_read FROM pg_stat_database "
                "WHERE datname = current_database()").fetchone()
            pids = [r[0] for r in conn.execute(
                "SELECT pid FROM pg_stat_activity WHERE datname = current_database()")]
        used = 0.0
        for pid in pids:
            with contextlib.suppress(OSError):
                now = process_cpu(pid)
                used += now - self.cpu.get(pid, 0.0)
                self.cpu[pid] = now
        blocks, self.blocks = blocks - self.blocks, blocks
        return int(blocks), used

    def unfinished(self) -> int:
        """Jobs not finished, by index scans: a bitmap scan (the planner's choice) would
        visit every dead row version since the last vacuum on every call, and never
        mark them dead in the index as an index scan does."""
        with self.db.connection() as conn, conn.transaction():
            conn.execute("SET LOCAL enable_bitmapscan = off")
            conn.execute("SET LOCAL enable_seqscan = off")
            (n,) = conn.execute(
                "SELECT (SELECT count(*) FROM conveyor_jobs WHERE state IN ('pending', "
                "'waiting')) + (SELECT count(*) FROM conveyor_jobs WHERE state = 'running')"
            ).fetchone()
        return int(n)

    def analyze(self) -> None:
        """Statistics of the table as it runs, not of the empty one the run started with
        (with autovacuum off, the workers' own vacuums analyze it only every 200,000
        dead rows; until then the bench's counts would plan sequential scans)."""
        with self.db.connection() as conn:
            conn.execute("ANALYZE conveyor_jobs")

    def table(self) -> str:
        with self.db.connection() as conn:
            upd, hot, size = conn.execute(
                "SELECT n_tup_upd, n_tup_hot_upd, pg_size_pretty(pg_total_relation_size(relid))"
                " FROM pg_stat_user_tables WHERE relid = 'conveyor_jobs'::regclass").fetchone()
            (fillfactor,) = conn.execute(
                "SELECT coalesce((SELECT option_value FROM pg_options_to_table(reloptions) "
                "WHERE option_name = 'fillfactor'), '100') FROM pg_class "
                "WHERE oid = 'conveyor_jobs'::regclass").fetchone()
        return (f"conveyor_jobs (fillfactor {fillfactor}): {size} with its indexes, "
                f"{hot:,} of {upd:,} updates HOT ({hot / max(upd, 1):.1%})")


def process_cpu(pid: int) -> float:
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


@dataclass
class Chunk:
    done: int  # jobs completed so far
    rows: int  # rows in the table
    rate: float  # jobs/s
    cpu_us: float  # workers' CPU per job
    rss: list[float]  # each worker's VmRSS, MiB
    draining: bool = False  # all jobs stored: the backlog shrinks (not compared)
    blocks: float = 0.0  # PostgreSQL: buffer accesses per job
    server_us: float = 0.0  # PostgreSQL: backends' CPU per job


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--url", help="store URL (default: a fresh SQLite file)")
    parser.add_argument("--total", type=int, default=1_000_000)
    parser.add_argument("--chunk", type=int, default=10_000)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--concurrency", type=int, default=None,
                        help="worker concurrency (default: the worker's own default)")
    parser.add_argument("--job", default="noop", choices=["noop", "noop_sync"])
    parser.add_argument("--keep", action="store_true",
                        help="keep the finished rows already stored: start at that depth")
    args = parser.parse_args()
    url = args.url or f"sqlite:///{tempfile.mkdtemp(prefix='conveyor-decay-')}/decay.db"
    os.environ["CONVEYOR_URL"] = url
    from bench.app import app

    if args.keep:
        app.cancel_jobs()  # (unfinished ones would be counted as this run's)
    else:
        fresh(app)
    before = app.count() if args.keep else 0
    job = app.jobs[args.job]
    server = Server(app) if url.startswith("postgres") else None
    workers = start_workers(url, args.workers, args.concurrency, args.job)
    chunks: list[Chunk] = []
    load_start = loadavg()
    try:
        wait_ready(app, workers)
        stored = done = 0
        mark, mark_done, mark_cpu = time.perf_counter(), 0, cpu_seconds(workers)
        if server:
            server.sample()
        while done < args.total:
            if stored - done < args.chunk and stored < args.total:
                app.enqueue_many([job() for _ in range(args.chunk)])
                stored += args.chunk
                if server and stored == args.chunk and not args.keep:
                    server.analyze()
            # (a count reads every row version since the last vacuum: not too often)
            time.sleep(0.25)
            # (one state per count: SQLite reads every row for an OR of states)
            done = stored - (server.unfinished() if server
                             else app.count(state="queued") + app.count(state="running"))
            if done - mark_done >= args.chunk:
                now, cpu = time.perf_counter(), cpu_seconds(workers)
                jobs = done - mark_done
                chunk = Chunk(done, before + stored, jobs / (now - mark),
                              (cpu - mark_cpu) / jobs * 1e6, [rss_mib(w.pid) for w in workers],
                              draining=stored >= args.total)
                if server:
                    blocks, used = server.sample()
                    chunk.blocks, chunk.server_us = blocks / jobs, used / jobs * 1e6
                chunks.append(chunk)
                mark, mark_done, mark_cpu = now, done, cpu
    finally:
        stop(workers)
    report(url, args, chunks, server)
    print(f"load average: {load_start} at start, {loadavg()} at the end")


def report(url: str, args: Any, chunks: list[Chunk], server: Server | None) -> None:
    print(f"store={url.split('://', 1)[0]} total={args.total:,} chunk={args.chunk:,} "
          f"workers={args.workers} concurrency={args.concurrency or 'default'} job={args.job}")
    step = max(1, len(chunks) // 10)
    for c in (chunks[i] for i in sorted({*range(0, len(chunks), step), len(chunks) - 1})):
        pg = f", {c.blocks:.0f} buffers/job, {c.server_us:.0f} us server CPU/job" if server else ""
        print(f"after {c.done:>9,} jobs ({c.rows:>9,} rows): {c.rate:>7,.0f} jobs/s, "
              f"{c.cpu_us:>4.0f} us CPU/job{pg}, RSS {' '.join(f'{r:.1f}' for r in c.rss)} MiB")
    steady = [c for c in chunks if not c.draining] or chunks
    head, tail = steady[1:6] or steady[:1], steady[-5:]  # the first chunk: warm-up
    figures = [("processed/s", "rate", ",.0f"), ("worker CPU us/job", "cpu_us", ".0f")]
    if server:
        figures += [("buffers/job", "blocks", ".1f"), ("server CPU us/job", "server_us", ".0f")]
    for label, field, fmt in figures:
        early = mean([getattr(c, field) for c in head])
        late = mean([getattr(c, field) for c in tail])
        print(f"{label}: early {early:{fmt}}, late {late:{fmt}} -> late is "
              f"{late / early if early else 0:.0%} of early")
    print(f"worker RSS (sum): {sum(head[0].rss):.1f} MiB after chunk "
          f"{1 + chunks.index(head[0])}, {sum(tail[-1].rss):.1f} MiB at the end")
    if server:
        print(server.table())

if __name__ == "__main__":
    main()
