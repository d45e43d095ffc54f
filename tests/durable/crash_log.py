"""The log the crash tests' worker processes append to (fsynced: they get kill -9), and
the points where they stop while the test blocks them (a file ``block-<point>``)."""

from __future__ import annotations

import os
import time
from pathlib import Path


def mark(folder: Path, line: str) -> None:
    with open(folder / "log", "a") as f:
        f.write(line + "\n")
        f.flush()
        os.fsync(f.fileno())


def blocked(folder: Path, point: str) -> bool:
    return (folder / f"block-{point}").exists()


def hold(folder: Path, point: str) -> None:
    """Wait at ``point`` while the test blocks it, logging ``at-<point>`` first."""
    if blocked(folder, point):
        mark(folder, f"at-{point}")
        while blocked(folder, point):
            time.sleep(0.05)
