"""Versioned SQL migrations for PostgreSQL, from ``store/postgres/migrations``.

Every process applies pending migrations at start-up under one transaction-level advisory lock:
processes starting together queue on the lock, the first applies everything in one
transaction, the others then find nothing left to do. Each version is applied exactly once.
"""

from __future__ import annotations

from typing import Any

from omnicord.store.records import utc_now
from omnicord.store.schema import CREATE_HISTORY, CURRENT, RECORD, Migration, newer
from omnicord.store.schema import load_migrations as load_from

#: The advisory lock held while migrating ("omnicord" in ASCII, as a bigint).
MIGRATION_LOCK = int.from_bytes(b"omnicord", "big") >> 1


def load_migrations() -> list[Migration]:
    """Every PostgreSQL migration shipped with the package, in version order."""
    return load_from("omnicord.store.postgres")


async def schema_version(conn: Any) -> int:
    """The highest migration applied (0 on a database Omnicord never used)."""
    if await conn.fetchval("SELECT to_regclass('schema_migrations')") is None:
        return 0
    return int(await conn.fetchval(CURRENT))


async def apply_pending(conn: Any) -> list[int]:
    """Apply every migration newer than the schema in one transaction; the versions applied."""
    async with conn.transaction():
        await conn.execute("SELECT pg_advisory_xact_lock($1)", MIGRATION_LOCK)
        await conn.execute(CREATE_HISTORY)
        applied = []
        for migration in newer(load_migrations(), await schema_version(conn)):
            await conn.execute(migration.sql)  # no arguments: the whole script in one go
            await conn.execute(RECORD, migration.version, migration.name, utc_now())
            applied.append(migration.version)
        return applied
