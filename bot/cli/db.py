"""``omnicord db``: migrate, status, copy and prune for SQLite and PostgreSQL alike; backup for
SQLite."""

from __future__ import annotations

import argparse
import asyncio
from pathlib import Path

from omnicord.cli.output import EXIT_OK, note
from omnicord.conversation.privacy import Privacy
from omnicord.errors import InputError
from omnicord.settings import Settings
from omnicord.store import open_store
from omnicord.store.base import COPY_TABLES
from omnicord.store.copy import copy_store
from omnicord.store.database import backup_sqlite
from omnicord.store.urls import without_password


async def run(args: argparse.Namespace, settings: Settings) -> int:
    """Run one ``db`` action."""
    if args.db_command == "copy":
        return await _copy(args.source, args.target, settings.db_pool_size)
    if args.db_command == "backup":
        return await _backup(settings, args.target)
    if args.db_command == "migrate":
        return await _migrate(settings)
    if args.db_command == "prune":
        return await _prune(settings, args.days)
    return await _status(settings)


async def _migrate(settings: Settings) -> int:
    async with open_store(settings.database, pool_size=1, migrate=False) as store:
        before = await store.schema_version()
        applied = await store.migrate()
    name = _name(settings.database)
    if applied:
        note(f"{name}: applied migrations {', '.join(map(str, applied))} (schema version "
             f"{before} → {applied[-1]})")
    else:
        note(f"{name} is up to date (schema version {before})")
    return EXIT_OK


async def _status(settings: Settings) -> int:
    if not settings.uses_postgresql and not settings.db_path.exists():
        note(f"there is no database at {settings.db_path} yet: the bot creates it on first use")
        return EXIT_OK
    async with open_store(settings.database, pool_size=1, migrate=False) as store:
        print(f"database: {_name(settings.database)} ({store.backend})")
        print(f"schema version: {await store.schema_version()}")
        pending = await store.pending_migrations()
        if pending:
            print(f"pending migrations: {', '.join(pending)} (run: omnicord db migrate)")
            return EXIT_OK
        print("pending migrations: none")
        for table in COPY_TABLES:
            print(f"{table}: {await store.count_rows(table):,} rows")
    return EXIT_OK


async def _backup(settings: Settings, target: Path) -> int:
    if settings.uses_postgresql:
        raise InputError("omnicord db backup is for SQLite; back up PostgreSQL with pg_dump")
    pages = await asyncio.to_thread(backup_sqlite, settings.db_path, target)
    note(f"backed up {settings.db_path} to {target} ({pages:,} pages)")
    return EXIT_OK


async def _copy(source_url: str, target_url: str, pool_size: int) -> int:
    async with open_store(source_url, pool_size=pool_size) as source, \
            open_store(target_url, pool_size=pool_size) as target:
        copied = await copy_store(source, target)
    for table in copied:
        print(f"{table.table}: {table.target_rows:,} of {table.source_rows:,} rows copied")
    note(f"copied {_name(source_url)} to {_name(target_url)}; every table's count matches")
    return EXIT_OK


async def _prune(settings: Settings, days: int | None) -> int:
    days = settings.retention_days if days is None else days
    if days <= 0:
        raise InputError("nothing to prune: set OMNICORD_RETENTION_DAYS or pass --days N "
                         "(a number of days above 0)")
    async with open_store(settings.database, pool_size=1) as store:
        removed = await Privacy(store, settings.media_cache()).prune_expired(days=days)
    assert removed is not None
    note(f"pruned {removed.turns:,} turns older than {days} days, {removed.usage:,} usage rows "
         f"and {len(removed.released_media):,} cached attachments")
    return EXIT_OK


def _name(database: str) -> str:
    return without_password(database)
