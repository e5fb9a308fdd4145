"""Versioned migrations, shared by both backends: one numbering, one history table.

Each backend ships its scripts in its own ``migrations`` folder, numbered alike from 0010 on
(a change to the schema gets the same number in both), so ``schema_version`` names the same
schema on either. Each backend applies them its own way (``sqlite.migrate``,
``postgres.migrate``), recording each version in ``schema_migrations``.
"""

from __future__ import annotations

import importlib
import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

_NAME = re.compile(r"^(\d{4})_[\w-]+\.sql$")

#: The history of applied migrations (the same table on both backends).
CREATE_HISTORY = ("CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY,"
                  " name TEXT NOT NULL, applied_at TEXT NOT NULL)")
#: Record one applied migration: version, name, when.
RECORD = "INSERT INTO schema_migrations (version, name, applied_at) VALUES ($1, $2, $3)"
#: The highest version applied, once the history exists.
CURRENT = "SELECT COALESCE(MAX(version), 0) FROM schema_migrations"


@dataclass(frozen=True)
class Migration:
    """One numbered SQL script from a backend's ``migrations`` folder."""

    version: int
    name: str
    sql: str


def load_migrations(package: str) -> list[Migration]:
    """Every migration shipped in ``package``'s ``migrations`` folder, in version order."""
    # The package's own folder, not importlib.resources (whose import costs every start-up
    # 10 ms): Omnicord is installed as files, never run from a zip.
    folder = Path(importlib.import_module(package).__file__ or "").parent / "migrations"
    found = []
    for entry in folder.iterdir():
        match = _NAME.match(entry.name)
        if match:
            found.append(Migration(int(match.group(1)), entry.name, entry.read_text("utf-8")))
    return sorted(found, key=lambda m: m.version)


def newer(migrations: Iterable[Migration], current: int) -> list[Migration]:
    """The migrations not applied to a schema at version ``current``."""
    return [m for m in migrations if m.version > current]
