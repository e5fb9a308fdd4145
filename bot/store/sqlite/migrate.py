"""Applying SQLite's migrations: inside the writer's transaction, under SQLite's write lock, so
of processes starting together one migrates and the others find nothing left to do."""

from __future__ import annotations

import sqlite3

from omnicord.store.records import utc_now
from omnicord.store.schema import CREATE_HISTORY, CURRENT, RECORD, Migration, newer
from omnicord.store.schema import load_migrations as load_from
from omnicord.store.sql.dialect import SQLITE


def load_migrations() -> list[Migration]:
    """Every SQLite migration shipped with the package, in version order."""
    return load_from("omnicord.store.sqlite")


def schema_version(db: sqlite3.Connection) -> int:
    """The highest migration applied (0 on a file Omnicord never used)."""
    exists = db.execute("SELECT 1 FROM sqlite_master WHERE type = 'table'"
                        " AND name = 'schema_migrations'").fetchone()
    return int(db.execute(CURRENT).fetchone()[0]) if exists else 0


def apply_pending(db: sqlite3.Connection) -> list[int]:
    """Apply every migration newer than the schema, inside the caller's transaction."""
    db.execute(CREATE_HISTORY)
    applied = []
    for migration in newer(load_migrations(), schema_version(db)):
        for statement in _statements(migration.sql):
            db.execute(statement)
        db.execute(SQLITE.sql(RECORD), (migration.version, migration.name, utc_now()))
        applied.append(migration.version)
    return applied


def _statements(sql: str) -> list[str]:
    """Split a migration script into complete statements (trigger bodies stay whole)."""
    statements, pending = [], ""
    for line in sql.splitlines(keepends=True):
        if not pending and line.strip().startswith("--"):
            continue
        pending += line
        if sqlite3.complete_statement(pending):
            statements.append(pending.strip())
            pending = ""
    if pending.strip():
        statements.append(pending.strip())
    return statements
