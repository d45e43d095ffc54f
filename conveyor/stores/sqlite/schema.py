"""SQLite schema as numbered ``migrations/NNNN_name.sql`` files (as PostgreSQL's).

``PRAGMA user_version`` holds the number of the last applied file, so a database is
upgraded by the files numbered above it. Adding a migration = adding a file with the next
number; a released file is never edited again. ``--`` comment lines may not hold ``;``
inside statements (files are split on ``;``).
"""

from __future__ import annotations

import sqlite3
from importlib import resources


def available() -> list[tuple[int, str, str]]:
    """(number, name, SQL) of every migration file, in order."""
    folder = resources.files("conveyor.stores.sqlite") / "migrations"
    files = sorted((f for f in folder.iterdir() if f.name.endswith(".sql")), key=lambda f: f.name)
    return [(int(f.name[:4]), f.name[:-4], f.read_text(encoding="utf-8")) for f in files]


def statements(text: str) -> list[str]:
    """The statements of one file, comment lines dropped (a trigger's body, holding ``;``
    itself, stays one statement)."""
    lines = [line for line in text.splitlines() if not line.lstrip().startswith("--")]
    found, part = [], ""
    for piece in "\n".join(lines).split(";"):
        part += piece + ";"
        if sqlite3.complete_statement(part):
            if part.strip(" \n;"):
                found.append(part.strip())
            part = ""
    if part.strip(" \n;"):
        found.append(part.strip())
    return found


# (name, SQL) in order; user_version after applying MIGRATIONS[:n] is the n-th's number.
MIGRATIONS: list[tuple[str, str]] = [(name, text) for _, name, text in available()]
