"""``omnicord db``: migrate, status, copy and prune for SQLite and PostgreSQL alike; backup for
SQLite."""

from __future__ import annotations

import argparse
import contextlib
import os
from pathlib import Path
from typing import TYPE_CHECKING

from omnicord import build
from omnicord.cli.output import EXIT_OK, note
from omnicord.errors import InputError
from omnicord.secrets import mask_url

if TYPE_CHECKING:
    from omnicord.settings import Settings
    from omnicord.store import Store

#: The most ``db prune --days`` takes: a hundred years, as OMNICORD_RETENTION_DAYS.
MAX_PRUNE_DAYS = 36_500


def add_arguments(commands: argparse._SubParsersAction) -> None:
    """``omnicord db`` and its actions."""
    db = commands.add_parser(
        "db", help="migrate, inspect or copy the database",
        description="Database operations on OMNICORD_DB (a SQLite file or a postgresql:// URL).",
    )
    actions = db.add_subparsers(dest="db_command", required=True, metavar="ACTION")
    actions.add_parser("migrate", help="apply pending migrations",
                       description="Apply every pending migration to OMNICORD_DB.")
    actions.add_parser("status", help="show the schema version and what is stored",
                       description="Print the backend, schema version, pending migrations "
                       "and row counts of OMNICORD_DB.")
    backup = actions.add_parser(
        "backup", help="write a consistent copy of a SQLite database",
        description="Write a consistent snapshot of the SQLite OMNICORD_DB with SQLite's "
        "backup API, safe while the bot runs (a plain file copy of a WAL database is not). "
        "For PostgreSQL use pg_dump.",
    )
    backup.add_argument("target", type=Path, metavar="FILE", help="the backup file to write")
    copy = actions.add_parser(
        "copy", help="copy every row from one database to another",
        description="Copy history, preferences and usage from one database to another (for "
        "example from SQLite to PostgreSQL), then verify the row counts match. The target "
        "must be empty.",
    )
    copy.add_argument("--from", dest="source", required=True, metavar="URL",
                      help="source database: a SQLite path, sqlite:///path or postgresql://…")
    copy.add_argument("--to", dest="target", required=True, metavar="URL",
                      help="target database (migrated first; must hold no rows)")
    prune = actions.add_parser(
        "prune", help="delete turns older than the retention period",
        description="Delete conversation turns older than OMNICORD_RETENTION_DAYS (or --days), "
        "with cached media no other turn uses, and usage from before both that and the "
        "current month. The bot does this itself at start-up and daily.",
    )
    prune.add_argument("--days", type=int, metavar="N",
                       help="keep the last N days (default: OMNICORD_RETENTION_DAYS)")


async def run(args: argparse.Namespace, settings: Settings) -> int:
    """Run one ``db`` action."""
    if args.db_command == "copy":
        return await _copy(settings, args.source, args.target)
    if args.db_command == "backup":
        return await _backup(settings, args.target)
    if args.db_command == "migrate":
        return await _migrate(settings)
    if args.db_command == "prune":
        return await _prune(settings, args.days)
    return await _status(settings)


async def _migrate(settings: Settings) -> int:
    async with build.open_store(settings, pool_size=1, migrate=False) as store:
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
    from omnicord.store.copy import COPY_TABLES

    async with build.open_store(settings, pool_size=1, migrate=False) as store:
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
    import asyncio

    if settings.uses_postgresql:
        raise InputError("omnicord db backup is for SQLite; back up PostgreSQL with pg_dump")
    pages = await asyncio.to_thread(backup_private, settings.db_path, target)
    note(f"backed up {settings.db_path} to {target} ({pages:,} pages)")
    return EXIT_OK


def backup_private(source: Path, target: Path) -> int:
    """Snapshot ``source`` into a new file ``target`` (0600, created exclusively: an existing
    path, a dangling link included, is refused); returns the pages copied. Blocking.

    SQLite writes the snapshot in a private folder beside ``target``, then its bytes go into
    the file claimed for it, so nothing is ever written through a link.
    """
    import shutil
    import tempfile

    from omnicord.files import create_private
    from omnicord.store.sqlite.database import backup_sqlite

    if not source.is_file():
        raise InputError(f"OMNICORD_DB: there is no database at {source}")
    try:
        fd = create_private(target)
    except FileExistsError:
        raise InputError(f"{target} already exists: name a new file for the backup") from None
    except OSError as error:
        raise InputError(f"cannot write the backup to {target}: {error.strerror}") from None
    try:
        with tempfile.TemporaryDirectory(dir=target.parent, prefix=".omnicord-backup-") as work:
            snapshot = Path(work) / "snapshot.db"
            pages = backup_sqlite(source, snapshot)
            with snapshot.open("rb") as copy, os.fdopen(os.dup(fd), "wb") as out:
                shutil.copyfileobj(copy, out)
                out.flush()
                os.fsync(out.fileno())
    except BaseException as error:
        _remove_claimed(target, fd)
        if isinstance(error, OSError):
            raise InputError(f"cannot write the backup to {target}: {error.strerror}") from None
        raise
    os.close(fd)
    return pages


def _remove_claimed(path: Path, fd: int) -> None:
    """Remove the file this process created at ``path`` (and only that file), and close it."""
    with contextlib.suppress(OSError):
        mine, there = os.fstat(fd), os.lstat(path)
        if (mine.st_dev, mine.st_ino) == (there.st_dev, there.st_ino):
            path.unlink()
    os.close(fd)


async def _copy(settings: Settings, source_url: str, target_url: str) -> int:
    from omnicord.secrets import register, url_secrets
    from omnicord.store.copy import copy_store
    from omnicord.store.urls import is_postgresql_url, sqlite_path

    register(*url_secrets(source_url), *url_secrets(target_url))
    if not is_postgresql_url(source_url) and not sqlite_path(source_url).is_file():
        raise InputError(f"--from: there is no SQLite database at {sqlite_path(source_url)}")
    async with build.open_store(settings, database=source_url, migrate=False) as source:
        await _require_omnicord_data(source, source_url)
        async with build.open_store(settings, database=target_url) as target:
            copied = await copy_store(source, target)
    for table in copied:
        print(f"{table.table}: {table.target_rows:,} of {table.source_rows:,} rows copied")
    note(f"copied {_name(source_url)} to {_name(target_url)}; every table's count matches")
    return EXIT_OK


async def _require_omnicord_data(source: Store, url: str) -> None:
    """Refuse a source Omnicord never migrated (a new or foreign database); bring an older
    Omnicord's up to date, as the bot would."""
    if await source.schema_version() == 0:
        raise InputError(f"--from: {_name(url)} is not an Omnicord database (no schema "
                         "migrations): nothing to copy")
    await source.migrate()


async def _prune(settings: Settings, days: int | None) -> int:
    if days is not None and not 1 <= days <= MAX_PRUNE_DAYS:
        raise InputError(f"--days must be between 1 and {MAX_PRUNE_DAYS:,} (a hundred years), "
                         f"not {days}")
    days = settings.retention_days if days is None else days
    if days <= 0:
        raise InputError("nothing to prune: set OMNICORD_RETENTION_DAYS or pass --days N "
                         "(a number of days above 0)")
    async with build.open_store(settings, pool_size=1) as store:
        removed = await build.privacy(settings, store).prune_expired(days=days)
    assert removed is not None
    note(f"pruned {removed.turns:,} turns older than {days} days, {removed.usage:,} usage rows "
         f"and {len(removed.released_media):,} cached attachments")
    return EXIT_OK


def _name(database: str) -> str:
    return mask_url(database)
