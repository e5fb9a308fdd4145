"""SQLite conversation store (aiosqlite), with versioned SQL migrations applied at start-up."""

from __future__ import annotations

import json
import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

import aiosqlite

from bot.store.base import MediaRef, Turn, utc_now

_MIGRATION_NAME = re.compile(r"^(\d{4})_[\w-]+\.sql$")


@dataclass(frozen=True)
class Migration:
    """One numbered SQL script from ``bot/store/migrations``."""

    version: int
    name: str
    sql: str


def load_migrations() -> list[Migration]:
    """Every migration shipped with the package, in version order."""
    folder = resources.files("bot.store") / "migrations"
    found = []
    for entry in folder.iterdir():
        match = _MIGRATION_NAME.match(entry.name)
        if match:
            found.append(Migration(int(match.group(1)), entry.name, entry.read_text("utf-8")))
    return sorted(found, key=lambda m: m.version)


class SqliteStore:
    """Conversation history in one SQLite file; safe to share within one event loop."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self._db: aiosqlite.Connection | None = None

    async def __aenter__(self) -> SqliteStore:
        await self.open()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()

    async def open(self) -> None:
        """Connect and bring the schema up to date."""
        if self._db is not None:
            return
        if self.path.parent != Path():
            self.path.parent.mkdir(parents=True, exist_ok=True)
        self._db = await aiosqlite.connect(self.path, isolation_level=None)
        self._db.row_factory = aiosqlite.Row
        await self._db.execute("PRAGMA foreign_keys = ON")
        await self._db.execute("PRAGMA journal_mode = WAL")
        await self.migrate()

    async def close(self) -> None:
        """Close the connection."""
        if self._db is not None:
            await self._db.close()
            self._db = None

    @property
    def db(self) -> aiosqlite.Connection:
        """The open connection."""
        if self._db is None:
            raise RuntimeError("SqliteStore.open() was not called")
        return self._db

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[aiosqlite.Connection]:
        """An immediate-mode transaction: committed on success, rolled back on any exit."""
        await self.db.execute("BEGIN IMMEDIATE")
        try:
            yield self.db
        except BaseException:
            await self.db.execute("ROLLBACK")
            raise
        await self.db.execute("COMMIT")

    async def schema_version(self) -> int:
        """The highest migration applied."""
        await self.db.execute(
            "CREATE TABLE IF NOT EXISTS schema_migrations ("
            " version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at TEXT NOT NULL)"
        )
        async with self.db.execute("SELECT MAX(version) FROM schema_migrations") as cursor:
            row = await cursor.fetchone()
        return int(row[0] or 0) if row else 0

    async def migrate(self) -> list[int]:
        """Apply pending migrations, each in its own transaction; return the versions applied."""
        current = await self.schema_version()
        applied = []
        for migration in load_migrations():
            if migration.version <= current:
                continue
            async with self.transaction() as db:
                for statement in _statements(migration.sql):
                    await db.execute(statement)
                await db.execute(
                    "INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)",
                    (migration.version, migration.name, utc_now()),
                )
            applied.append(migration.version)
        return applied

    async def history(self, scope: str, *, limit: int | None = None) -> list[Turn]:
        """The scope's turns, oldest first (only the newest ``limit`` when given)."""
        query = (
            "SELECT t.* FROM turns t JOIN conversations c ON c.id = t.conversation_id"
            " WHERE c.scope = ? ORDER BY t.id DESC"
        )
        params: tuple[Any, ...] = (scope,)
        if limit is not None:
            query += " LIMIT ?"
            params = (scope, limit)
        async with self.db.execute(query, params) as cursor:
            rows = await cursor.fetchall()
        return [_turn_from_row(row) for row in reversed(list(rows))]

    async def add_turn(self, scope: str, turn: Turn) -> None:
        """Store a completed turn (and its conversation, if new) in one transaction."""
        async with self.transaction() as db:
            conversation_id = await self._conversation_id(scope)
            await db.execute(
                "INSERT INTO turns (conversation_id, speaker_id, speaker_name, text, media_json,"
                " reply_text, model, usage_json, created_at, replied_at, source_message_id,"
                " reply_message_ids) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    conversation_id,
                    turn.speaker_id,
                    turn.speaker_name,
                    turn.text,
                    json.dumps([m.to_dict() for m in turn.media]),
                    turn.reply_text,
                    turn.model,
                    json.dumps(turn.usage) if turn.usage is not None else None,
                    turn.created_at,
                    turn.replied_at,
                    turn.source_message_id,
                    json.dumps(list(turn.reply_message_ids)),
                ),
            )
            await db.execute(
                "UPDATE conversations SET updated_at = ? WHERE id = ?",
                (utc_now(), conversation_id),
            )

    async def reset(self, scope: str) -> int:
        """Delete the scope's turns; return how many there were."""
        cursor = await self.db.execute(
            "DELETE FROM turns WHERE conversation_id IN"
            " (SELECT id FROM conversations WHERE scope = ?)",
            (scope,),
        )
        return cursor.rowcount

    async def system_prompt(self, scope: str) -> str | None:
        """The scope's own persona, if one was set."""
        async with self.db.execute(
            "SELECT system_prompt FROM conversations WHERE scope = ?", (scope,)
        ) as cursor:
            row = await cursor.fetchone()
        return row[0] if row else None

    async def set_system_prompt(self, scope: str, prompt: str | None) -> None:
        """Set (or clear, with None) the scope's persona."""
        async with self.transaction() as db:
            conversation_id = await self._conversation_id(scope)
            await db.execute(
                "UPDATE conversations SET system_prompt = ?, updated_at = ? WHERE id = ?",
                (prompt, utc_now(), conversation_id),
            )

    async def _conversation_id(self, scope: str) -> int:
        await self.db.execute(
            "INSERT INTO conversations (scope) VALUES (?) ON CONFLICT (scope) DO NOTHING",
            (scope,),
        )
        async with self.db.execute(
            "SELECT id FROM conversations WHERE scope = ?", (scope,)
        ) as cursor:
            row = await cursor.fetchone()
        assert row is not None
        return int(row[0])


def _statements(sql: str) -> list[str]:
    """Split a migration script into statements (migrations contain no triggers)."""
    lines = [line for line in sql.splitlines() if not line.strip().startswith("--")]
    return [part.strip() for part in "\n".join(lines).split(";") if part.strip()]


def _turn_from_row(row: aiosqlite.Row) -> Turn:
    return Turn(
        speaker_id=row["speaker_id"],
        speaker_name=row["speaker_name"],
        text=row["text"],
        reply_text=row["reply_text"],
        model=row["model"],
        media=tuple(MediaRef.from_dict(m) for m in json.loads(row["media_json"])),
        usage=json.loads(row["usage_json"]) if row["usage_json"] else None,
        created_at=row["created_at"],
        replied_at=row["replied_at"],
        source_message_id=row["source_message_id"],
        reply_message_ids=tuple(json.loads(row["reply_message_ids"])),
    )
