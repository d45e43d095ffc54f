"""What the benchmarks over idle worker processes share: their command line and their
worker processes (an app script under bench/ that reads BENCH_CONCURRENCY)."""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent


def fleet_parser(doc: str | None, jobs: int, concurrency: int = 200) -> argparse.ArgumentParser:
    """--url, --jobs (default ``jobs``), --workers and --concurrency (default
    ``concurrency``)."""
    parser = argparse.ArgumentParser(description=doc)
    parser.add_argument("--url", help="store URL (default: a fresh SQLite file)")
    parser.add_argument("--jobs", type=int, default=jobs)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--concurrency", type=int, default=concurrency)
    return parser


def fleet_url(args: argparse.Namespace, filename: str) -> str:
    """``--url``, or a fresh SQLite file; exported as CONVEYOR_URL for the app modules."""
    url: str = args.url or f"sqlite:///{tempfile.mkdtemp(prefix='conveyor-bench-')}/{filename}"
    os.environ["CONVEYOR_URL"] = url
    return url


def spawn_workers(script: str, count: int, concurrency: int, **env_vars: str
                  ) -> list[subprocess.Popen[bytes]]:
    """``count`` processes running ``bench/<script>`` on CONVEYOR_URL (or as ``env_vars``
    say)."""
    env = dict(os.environ, BENCH_CONCURRENCY=str(concurrency), PYTHONPATH=str(HERE.parent),
               **env_vars)
    return [subprocess.Popen([sys.executable, str(HERE / script)], env=env)
            for _ in range(count)]
