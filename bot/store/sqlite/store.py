"""SQLite store: conversations, turns, usage and preferences in one file, with versioned SQL
migrations applied once at start-up under SQLite's write lock."""

from __future__ import annotations

import functools
import json
import os
import sqlite3
from collections.abc import AsyncIterator, Sequence
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from pathlib import Path

from omnicord.store.copy import COPY_KEYS, COPY_TABLES, DERIVED_TABLES, check_table
from omnicord.store.locks import ScopeLocks
from omnicord.store.records import SYNC_CLAIM_SECONDS, Kept, Removed, Row, Turn, UsageRow, utc_now
from omnicord.store.rows import (
    media_hashes,
    orphaned_replies,
    turn_from_row,
    turn_values,
    usage_values,
    without_nul,
)
from omnicord.store.schema import newer
from omnicord.store.sql import conversations, erasures, replace
from omnicord.store.sql.budgets import IMPORT_TOTALS, claim_notice, month_usage
from omnicord.store.sql.dialect import SQLITE
from omnicord.store.sql.erasures import PRUNE_BATCH
from omnicord.store.sql.preferences import Preferences
from omnicord.store.sql.shared import SharedQueries
from omnicord.store.sql.talk import TalkTime
from omnicord.store.sqlite.bot_state import claim_sync, end_claim, set_hash
from omnicord.store.sqlite.database import (
    DEFAULT_BUSY_TIMEOUT,
    Combinable,
    SqliteDatabase,
    T,
    Work,
    in_transaction,
)
from omnicord.store.sqlite.executor import SqliteExecutor
from omnicord.store.sqlite.limits import MemoryLimits
from omnicord.store.sqlite.locks import FileScopeLocks
from omnicord.store.sqlite.migrate import apply_pending, load_migrations, schema_version


class SqliteStore(SharedQueries):
    """Conversation history, usage and preferences in one SQLite file.

    Safe to share between coroutines (writes are serialized in one writer thread) and between
    processes (SQLite's write lock, and scope locks on a file beside the database). Limits
    (cooldowns, concurrency, upstream rate) are counted in this process.
    """

    backend = "sqlite"

    def __init__(self, path: str | Path, *, busy_timeout: float = DEFAULT_BUSY_TIMEOUT) -> None:
        self.path = Path(path)
        self.database = SqliteDatabase(path, busy_timeout=busy_timeout)
        self.executor = SqliteExecutor(self.database)
        self.preferences = Preferences(self.executor)
        self.talk = TalkTime(self.executor)
        self.limits = MemoryLimits()
        self.locks: ScopeLocks | FileScopeLocks = (
            ScopeLocks() if self.database.in_memory
            else FileScopeLocks(f"{self.database.path}-locks")
        )

    async def open(self, *, migrate: bool = True) -> None:
        """Connect and (unless told not to) bring the schema up to date; StoreUnavailable if
        the file is unusable."""
        await self.database.open(apply_pending if migrate else None)

    async def close(self) -> None:
        """Close the connections."""
        await self.database.close()
        if isinstance(self.locks, FileScopeLocks):
            self.locks.close()

    def hold(self, scope: str) -> AbstractAsyncContextManager[None]:
        """Hold the scope's conversation lock (across processes for a database file)."""
        return self.locks.hold(scope)

    async def write(self, work: Work[T]) -> T:
        """Run ``work`` in one write transaction."""
        return await self.database.write(work)

    async def read(self, work: Work[T]) -> T:
        """Run ``work`` on the read connection."""
        return await self.database.read(work)

    async def schema_version(self) -> int:
        """The highest migration applied."""
        return await self.read(schema_version)

    async def migrate(self) -> list[int]:
        """Apply pending migrations; return the versions applied."""
        return await self.write(apply_pending)

    async def pending_migrations(self) -> list[str]:
        """Names of the shipped migrations not applied yet."""
        current = await self.schema_version()
        return [m.name for m in newer(load_migrations(), current)]

    async def export_rows(self, table: str, *, batch: int = 1000) -> AsyncIterator[list[Row]]:
        """Every row of one of ``COPY_TABLES``, in batches, in key order."""
        columns = COPY_TABLES[check_table(table)]
        select = f"SELECT {', '.join(columns)} FROM {table}"
        if columns[0] == "id":  # by key, so a big table is read in linear time
            last = 0
            query = f"{select} WHERE id > ? ORDER BY id LIMIT ?"
            while rows := await self.read(functools.partial(_fetch, query, (last, batch))):
                yield rows
                last = rows[-1][0]
            return
        rows = await self.read(functools.partial(
            _fetch, f"{select} ORDER BY {', '.join(COPY_KEYS[table])}", ()))
        for start in range(0, len(rows), batch):
            yield rows[start:start + batch]

    async def import_rows(self, table: str, rows: list[Row]) -> None:
        """Insert exported rows, keeping their ids, in one transaction."""
        columns = COPY_TABLES[check_table(table)]
        statement = (f"INSERT INTO {table} ({', '.join(columns)})"
                     f" VALUES ({', '.join('?' * len(columns))})")
        if table in DERIVED_TABLES:  # replaces what the trigger counted from copied usage
            statement = SQLITE.sql(IMPORT_TOTALS)
        await self.write(lambda db: db.executemany(statement, rows))

    async def remove_rows(self, table: str, keys: list[Row]) -> None:
        """Delete the rows with these keys (``COPY_KEYS``), in one transaction."""
        where = " AND ".join(f"{column} = ?" for column in COPY_KEYS[check_table(table)])
        await self.write(lambda db: db.executemany(f"DELETE FROM {table} WHERE {where}", keys))

    async def recall(self, scope: str, *, limit: int | None = None
                     ) -> tuple[list[Turn], str | None]:
        """The scope's turns (as ``history``) and its persona, read together."""
        recalled: tuple[list[Turn], str | None] = await self.database.read_combined(
            Combinable(("recall", limit), scope, functools.partial(_recall_all, limit=limit)))
        return recalled

    async def add_turn(self, scope: str, turn: Turn, usage: UsageRow | None = None) -> Kept:
        """Store a completed turn, and the usage it cost, unless an erasure forbids it: both
        or neither, in one transaction with the tombstone check (turns queued together share
        it)."""
        values = (scope, *turn_values(turn), *usage_values(usage), os.urandom(16).hex())
        members = (turn.speaker_id, usage.user_id if usage else turn.speaker_id)
        write = _TurnWrite(values, members, turn.created_at, turn.source_message_id)
        kept: Kept = await self.database.write_combined(
            Combinable(_INTO_TURN_WRITES, write, _write_turns))
        return kept

    async def add_usage(self, usage: UsageRow) -> bool:
        """Record one request's usage unless its member was erased since it began."""
        return await self.write(lambda db: insert_usage(db, usage))

    async def replace_turn(self, scope: str, source_message_id: str, turn: Turn,
                           usage: UsageRow | None = None) -> Kept:
        """In one transaction: unless a tombstone forbids it (``sql.replace``), delete the
        scope's turn made from ``source_message_id`` and store ``turn`` and its usage."""
        values = (scope, *turn_values(turn), *usage_values(usage), os.urandom(16).hex())
        members = (turn.speaker_id, usage.user_id if usage else turn.speaker_id)

        def swap(db: sqlite3.Connection) -> str | None:
            row = db.execute(SQLITE.sql(replace.BLOCKED),
                             (*members, turn.created_at, source_message_id)).fetchone()
            if row is not None:
                return str(row[0])
            db.execute(SQLITE.sql(replace.DELETE_OLD), (source_message_id, scope))
            db.execute(f"INSERT INTO {_INTO_TURN_WRITES} VALUES ({', '.join('?' * len(values))})",
                       values)
            return None

        return erasures.verdict(await self.write(swap))

    async def month_usage(self, key: str, month: str) -> list[tuple[str, int, int]]:
        """(model, prompt, completion) counted under ``key`` (``bot``, ``guild:<id>``) in
        ``month``."""
        return await month_usage(self.executor, key, month)

    async def claim_notice(self, key: str) -> bool:
        """True for the one caller that first claims ``key``."""
        return await claim_notice(self.executor, key)

    async def claim_command_sync(self, application_id: str, tree_hash: str, *,
                                 seconds: float = SYNC_CLAIM_SECONDS) -> str | None:
        """Claim the sync of ``tree_hash`` (one writer at a time: one process wins)."""
        token = os.urandom(16).hex()
        return await self.write(lambda db: claim_sync(db, application_id, tree_hash, seconds,
                                                      token))

    async def set_command_tree_hash(self, application_id: str, tree_hash: str, *,
                                    claim: str | None = None) -> None:
        """Record that ``tree_hash`` was synced, ending ``claim`` if given."""
        await self.write(lambda db: set_hash(db, application_id, tree_hash, claim))

    async def release_command_sync(self, application_id: str, claim: str) -> None:
        """End a claim without recording a sync."""
        await self.write(lambda db: end_claim(db, application_id, claim))

    async def reset(self, scope: str) -> int:
        """Delete the scope's turns; return how many there were."""
        removed = await conversations.reset(self.executor, scope)
        if removed:
            await self.scrub()
        return int(removed)

    async def reset_place(self, scope: str, prefix: str) -> int:
        """Delete the turns of a place's conversations; return how many there were."""
        removed = await conversations.reset_place(self.executor, scope, prefix)
        if removed:
            await self.scrub()
        return int(removed)

    async def forget_messages(self, message_ids: Sequence[str], *,
                              why: Kept = Kept.DELETED) -> Removed:
        """Delete every turn made from, or answered by, one of these messages, and leave
        their tombstones."""
        if not message_ids:
            return Removed()
        ids = json.dumps(list(message_ids))
        erased_at = utc_now()

        def forget(db: sqlite3.Connection) -> Removed:
            db.executemany(_TOMBSTONE, [(why.value, message_id, erased_at)
                                        for message_id in message_ids])
            rows, released = _delete_turns(db, _BY_MESSAGE, (ids,))
            return Removed(turns=len(rows), released_media=released,
                           orphaned_replies=orphaned_replies(rows, message_ids))

        removed = await self.write(forget)
        if removed.turns:
            await self.scrub()
        return removed

    async def forget_member(self, user_id: str, *, own_scopes: Sequence[str] = ()) -> Removed:
        """Delete a member's turns, own conversations, preferences and usage, and leave their
        tombstone, in one transaction."""
        scopes = json.dumps(list(own_scopes))
        erased_at = utc_now()

        def forget(db: sqlite3.Connection) -> Removed:
            db.execute(_TOMBSTONE, (erasures.MEMBER_ERASED, user_id, erased_at))
            rows, released = _delete_turns(db, _BY_SPEAKER, (user_id, scopes))
            db.execute("DELETE FROM conversations WHERE scope IN (SELECT value FROM json_each(?))",
                       (scopes,))
            preferences = db.execute("DELETE FROM member_settings WHERE user_id = ?",
                                     (user_id,)).rowcount
            usage = db.execute("DELETE FROM usage WHERE user_id = ?", (user_id,)).rowcount
            return Removed(len(rows), released, preferences, usage)

        removed = await self.write(forget)
        await self.scrub()
        return removed

    async def prune_erasures(self, *, older_than: str) -> int:
        """Forget tombstones from before ``older_than``."""
        return await conversations.prune_erasures(self.executor, older_than=older_than)

    async def scrub(self) -> None:
        """Truncate the write-ahead log, so pages of erased rows (zeroed in the database file
        by ``secure_delete``) leave the ``-wal`` file too."""
        await self.database.checkpoint()

    async def prune(self, *, turns_before: str, usage_before: str) -> Removed:
        """Delete turns created before ``turns_before`` and usage of days before
        ``usage_before``, a batch per transaction so other writes are never held up long."""
        turns, released = 0, set[str]()
        while True:
            batch = await self.write(functools.partial(
                _delete_turns, where=SQLITE.sql(erasures.OLDER_THAN),
                params=(turns_before, PRUNE_BATCH)))
            turns += len(batch[0])
            released.update(batch[1])
            if len(batch[0]) < PRUNE_BATCH:
                break
        usage = await conversations.prune_usage(self.executor, before_day=usage_before)
        if turns or usage:
            await self.scrub()
        return Removed(turns=turns, released_media=tuple(sorted(released)), usage=usage)

    async def referenced_media(self, content_hashes: Sequence[str]) -> set[str]:
        """Which of these content hashes a stored turn refers to, in one read."""
        if not content_hashes:
            return set()
        hashes = json.dumps(list(content_hashes))
        rows = await self.read(lambda db: db.execute(_REFERENCED_MEDIA, (hashes,)).fetchall())
        return {row[0] for row in rows}

    async def set_system_prompt(self, scope: str, prompt: str | None) -> None:
        """Set (or clear, with None) the scope's persona."""

        def update(db: sqlite3.Connection) -> None:
            db.execute("UPDATE conversations SET system_prompt = ? WHERE id = ?",
                       (prompt if prompt is None else without_nul(prompt),
                        _conversation_id(db, scope)))

        await self.write(update)


_TURN_COLUMNS = ("scope", "speaker_id", "speaker_name", "text", "media_json", "reply_text",
                 "model", "usage_json", "created_at", "replied_at", "source_message_id",
                 "reply_message_ids")
_USAGE_COLUMNS = ("usage_day", "usage_guild_id", "usage_channel_id", "usage_user_id",
                  "usage_model", "usage_prompt_tokens", "usage_completion_tokens")


# Every turn is written with the same columns (usage ones NULL without usage), so the writer
# can store a burst of turns in one statement.
_INTO_TURN_WRITES = f"turn_writes ({', '.join((*_TURN_COLUMNS, *_USAGE_COLUMNS, 'write_key'))})"
_TOMBSTONE = ("INSERT INTO erasures (kind, subject, erased_at) VALUES (?, ?, ?)"
              " ON CONFLICT (kind, subject) DO UPDATE SET erased_at = excluded.erased_at")
_VERDICT = ("SELECT kind FROM erasures WHERE (kind = 'member' AND subject IN (?, ?)"
            " AND erased_at >= ?) OR (kind IN ('deleted', 'edited') AND subject = ?)"
            f" ORDER BY {erasures.VERDICT_ORDER} LIMIT 1")


@dataclass(frozen=True)
class _TurnWrite:
    """A turn's row for ``turn_writes`` and what its tombstone check needs."""

    values: tuple[object, ...]
    members: tuple[str, str]  # the speaker, and whom its usage counts against
    created_at: str
    source_message_id: str | None


def _verdict(db: sqlite3.Connection, members: tuple[str, str], since: str,
             message_id: str | None) -> Kept:
    row = db.execute(_VERDICT, (*members, since, message_id)).fetchone()
    return erasures.verdict(None if row is None else row[0])


# The verdicts of a burst of turns in one query: every sqlite3 call hands the GIL back to a
# busy event loop, so a burst pays for one check, not one per turn.
_VERDICTS = (
    "SELECT (SELECT kind FROM erasures WHERE (kind = 'member' AND subject IN"
    " (json_extract(w.value, '$[0]'), json_extract(w.value, '$[1]'))"
    " AND erased_at >= json_extract(w.value, '$[2]'))"
    " OR (kind IN ('deleted', 'edited') AND subject = json_extract(w.value, '$[3]'))"
    f" ORDER BY {erasures.VERDICT_ORDER} LIMIT 1) FROM json_each(?) w ORDER BY w.key")
def _verdicts(db: sqlite3.Connection, writes: list[_TurnWrite]) -> list[Kept]:
    checks = json.dumps([[*w.members, w.created_at, w.source_message_id] for w in writes])
    return [erasures.verdict(row[0]) for row in db.execute(_VERDICTS, (checks,))]


def _write_turns(db: sqlite3.Connection, writes: list[_TurnWrite]) -> list[Kept]:
    """Check a burst of turns against the tombstones (one query) and insert the ones kept (one
    statement), in one transaction: no erasure, from any process, can come between the check
    and the insert, so each verdict is exact."""

    def write(db: sqlite3.Connection) -> list[Kept]:
        verdicts = _verdicts(db, writes)
        kept = [w.values for w, verdict in zip(writes, verdicts, strict=True)
                if verdict is Kept.STORED]
        if kept:
            row = f"({', '.join('?' * len(kept[0]))})"
            db.execute(f"INSERT INTO {_INTO_TURN_WRITES} VALUES {', '.join([row] * len(kept))}",
                       [value for values in kept for value in values])
        return verdicts

    return in_transaction(db, write)


_BY_MESSAGE = ("id IN (SELECT turn_id FROM turn_refs WHERE kind = 'message'"
               " AND ref IN (SELECT value FROM json_each(?)))")
_BY_SPEAKER = ("speaker_id = ? OR conversation_id IN (SELECT id FROM conversations"
               " WHERE scope IN (SELECT value FROM json_each(?)))")
_REFERENCED_MEDIA = ("SELECT DISTINCT ref FROM turn_refs WHERE kind = 'media'"
                     " AND ref IN (SELECT value FROM json_each(?))")


def _delete_turns(db: sqlite3.Connection, where: str, params: Sequence[object]
                  ) -> tuple[list[sqlite3.Row], tuple[str, ...]]:
    """Delete the turns matching ``where`` (their refs go with them): their rows (media and
    message ids), and the content hashes of their media that no remaining turn refers to."""
    rows = db.execute(f"DELETE FROM turns WHERE {where} RETURNING {erasures.DELETED_COLUMNS}",
                      params).fetchall()
    hashes = media_hashes(row["media_json"] for row in rows)
    if not hashes:
        return rows, ()
    still_used = {row[0] for row in db.execute(
        "SELECT DISTINCT ref FROM turn_refs WHERE kind = 'media'"
        " AND ref IN (SELECT value FROM json_each(?))", (json.dumps(sorted(hashes)),))}
    return rows, tuple(sorted(hashes - still_used))


def insert_usage(db: sqlite3.Connection, usage: UsageRow) -> bool:
    """Insert one usage row inside the caller's transaction, unless its member was erased
    since the work began; whether it was kept."""
    if _verdict(db, (usage.user_id, usage.user_id), usage.began_at, None) is not Kept.STORED:
        return False
    db.execute(
        "INSERT INTO usage (day, guild_id, channel_id, user_id, model, prompt_tokens,"
        " completion_tokens, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        (usage.day, usage.guild_id, usage.channel_id, usage.user_id, usage.model,
         usage.prompt_tokens, usage.completion_tokens, utc_now()),
    )
    return True


def _recall_all(db: sqlite3.Connection, scopes: list[str], *, limit: int | None
                ) -> list[tuple[list[Turn], str | None]]:
    """Turns and persona of several scopes in one query: a busy event loop makes every step of
    the reader thread costly, so a burst of recalls shares one."""
    rows = db.execute(
        "WITH wanted AS (SELECT id, scope, system_prompt FROM conversations"
        "                WHERE scope IN (SELECT value FROM json_each(?)))"
        " SELECT w.scope AS scope, w.system_prompt AS persona, t.* FROM wanted w"
        # Each conversation's newest turns straight from its index, however long it is.
        " LEFT JOIN turns t ON t.id IN (SELECT id FROM turns WHERE conversation_id = w.id"
        "                               ORDER BY id DESC LIMIT ?)"
        " ORDER BY t.id", (json.dumps(scopes), -1 if limit is None else limit)
    ).fetchall()
    found: dict[str, tuple[list[Turn], str | None]] = {}
    for row in rows:
        turns, _ = found.setdefault(row["scope"], ([], row["persona"]))
        if row["id"] is not None:
            turns.append(turn_from_row(row))
    return [found.get(scope, ([], None)) for scope in scopes]


def _fetch(query: str, params: tuple[object, ...], db: sqlite3.Connection) -> list[Row]:
    return [tuple(row) for row in db.execute(query, params).fetchall()]



def _conversation_id(db: sqlite3.Connection, scope: str) -> int:
    """The scope's conversation (created if new), marked as updated now."""
    db.execute("INSERT INTO conversations (scope, updated_at) VALUES (?, ?) ON CONFLICT (scope)"
               " DO UPDATE SET updated_at = excluded.updated_at", (scope, utc_now()))
    row = db.execute("SELECT id FROM conversations WHERE scope = ?", (scope,)).fetchone()
    return int(row[0])
