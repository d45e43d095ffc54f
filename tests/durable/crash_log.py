"""The log the crash tests' worker processes append to (fsynced: they get kill -9)."""

from __future__ import annotations

import os
from pathlib import Path


def mark(folder: Path, line: str) -> None:
    with open(folder / "log", "a") as f:
        f.write(line + "\n")
        f.flush()
        os.fsync(f.fileno())
