"""Versioned SQL migrations for PostgreSQL, from ``bot/store/migrations/postgresql``.

Every process applies pending migrations at start-up under one transaction-level advisory lock:
processes starting together queue on the lock, the first applies everything in one
transaction, the others then find nothing left to do. Each version is applied exactly once.
"""

from __future__ import annotations

import re
from importlib import resources
from typing import Any

from omnicord.store.base import utc_now
from omnicord.store.sqlite import Migration

_MIGRATION_NAME = re.compile(r"^(\d{4})_[\w-]+\.sql$")
#: The advisory lock held while migrating ("omnicord" in ASCII, as a bigint).
MIGRATION_LOCK = int.from_bytes(b"omnicord", "big") >> 1


def load_migrations() -> list[Migration]:
    """Every PostgreSQL migration shipped with the package, in version order."""
    folder = resources.files("omnicord.store") / "migrations" / "postgresql"
    found = []
    for entry in folder.iterdir():
        match = _MIGRATION_NAME.match(entry.name)
        if match:
            found.append(Migration(int(match.group(1)), entry.name, entry.read_text("utf-8")))
    return sorted(found, key=lambda m: m.version)


async def schema_version(conn: Any) -> int:
    """The highest migration applied (0 on a database Omnicord never used)."""
    if await conn.fetchval("SELECT to_regclass('schema_migrations')") is None:
        return 0
    return int(await conn.fetchval("SELECT COALESCE(MAX(version), 0) FROM schema_migrations"))


async def apply_pending(conn: Any) -> list[int]:
    """Apply every migration newer than the schema in one transaction; the versions applied."""
    async with conn.transaction():
        await conn.execute("SELECT pg_advisory_xact_lock($1)", MIGRATION_LOCK)
        await conn.execute(
            "CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY,"
            " name TEXT NOT NULL, applied_at TEXT NOT NULL)")
        current = await schema_version(conn)
        applied = []
        for migration in load_migrations():
            if migration.version <= current:
                continue
            await conn.execute(migration.sql)  # no arguments: the whole script in one go
            await conn.execute(
                "INSERT INTO schema_migrations (version, name, applied_at) VALUES ($1, $2, $3)",
                migration.version, migration.name, utc_now())
            applied.append(migration.version)
        return applied
