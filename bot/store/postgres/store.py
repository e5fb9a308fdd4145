"""PostgreSQL store: what ``SqliteStore`` keeps, in a database several bot processes share.

Conversations, usage and preferences live in the same tables and columns as in SQLite (see
``migrations``). The conversation lock, cooldowns, concurrency slots and the
upstream rate hold across processes (``leases``, ``limits``). Needs asyncpg (the
``postgresql`` extra: ``pip install -e ".[postgresql]"`` in a checkout).
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Sequence
from contextlib import AbstractAsyncContextManager
from typing import Any

from omnicord.store.copy import COPY_KEYS, COPY_TABLES, DERIVED_TABLES, check_table
from omnicord.store.locks import ScopeLocks
from omnicord.store.postgres.bot_state import PostgresBotState
from omnicord.store.postgres.database import CONNECT_TIMEOUT, PostgresDatabase
from omnicord.store.postgres.executor import PostgresExecutor, row_count
from omnicord.store.postgres.leases import LEASE_SECONDS, Leases, ScopeHolds
from omnicord.store.postgres.limits import PostgresLimits
from omnicord.store.postgres.migrate import apply_pending, load_migrations, schema_version
from omnicord.store.postgres.scrub import Scrubber
from omnicord.store.records import SYNC_CLAIM_SECONDS, Kept, Removed, Row, Turn, UsageRow, utc_now
from omnicord.store.rows import (
    media_hashes,
    orphaned_replies,
    row_without_nul,
    turn_from_row,
    turn_values,
    usage_values,
    without_nul,
)
from omnicord.store.schema import newer
from omnicord.store.sql import conversations, erasures, replace
from omnicord.store.sql.budgets import IMPORT_TOTALS, claim_notice, month_usage
from omnicord.store.sql.dialect import POSTGRESQL
from omnicord.store.sql.erasures import PRUNE_BATCH
from omnicord.store.sql.preferences import Preferences
from omnicord.store.sql.shared import SharedQueries
from omnicord.store.sql.talk import TalkTime

_RECALL = """
    SELECT c.system_prompt AS persona, t.* FROM conversations c
    LEFT JOIN LATERAL (SELECT * FROM turns WHERE conversation_id = c.id
                       ORDER BY id DESC LIMIT $2) t ON true
    WHERE c.scope = $1 ORDER BY t.id"""

# Erasures and writes of turns and usage exclude each other per member and per message with
# transaction-level advisory locks (writes share them, erasures take them alone), and a write
# checks the tombstones in a statement of its own after its locks: so a write either commits
# before an erasure begins (and the erasure deletes it) or sees the erasure's tombstone.
_LOCK_SHARED = """
    SELECT pg_advisory_xact_lock_shared(key) FROM (
        SELECT DISTINCT hashtextextended('omnicord-erasure:' || k, 0) AS key
        FROM unnest($1::text[]) k ORDER BY 1) keys"""
_LOCK_ALONE = _LOCK_SHARED.replace("_shared", "")

_BLOCKED = f"""
    blocked AS (
        SELECT kind FROM erasures
        WHERE (kind = 'member' AND subject = ANY($1::text[]) AND erased_at >= $2::text)
           OR (kind IN ('deleted', 'edited') AND subject = $3::text)
        ORDER BY {erasures.VERDICT_ORDER} LIMIT 1)"""

# The turn, its conversation and its usage in one round trip, unless a tombstone forbids them
# (then the kind of tombstone comes back): the function (migration 0012) takes the shared
# erasure locks, then inserts in a statement of its own; written once per write key however
# often retried.
_ADD_TURN = "SELECT omnicord_add_turn(" + ", ".join(f"${n}" for n in range(1, 25)) + ")"

_ADD_USAGE = f"""
    WITH {_BLOCKED}
    INSERT INTO usage (day, guild_id, channel_id, user_id, model, prompt_tokens,
                       completion_tokens, created_at, write_key)
    SELECT $4, $5, $6, $7, $8, $9, $10, $11, $12 WHERE NOT EXISTS (SELECT 1 FROM blocked)
    ON CONFLICT (write_key) DO NOTHING"""

_TOMBSTONES = """
    INSERT INTO erasures (kind, subject, erased_at) SELECT $1, s, $3 FROM unnest($2::text[]) s
    ON CONFLICT (kind, subject) DO UPDATE SET erased_at = excluded.erased_at"""

#: The tables an erasure leaves dead rows in, to vacuum.
_TURN_TABLES = ("turns", "turn_refs")
_MEMBER_TABLES = (*_TURN_TABLES, "conversations", "member_settings", "usage", "cooldowns")


def _member_key(user_id: str) -> str:
    return f"member:{user_id}"


def _message_key(message_id: str) -> str:
    return f"message:{message_id}"


class PostgresStore(SharedQueries):
    """Conversation history, usage, preferences and shared limits in one PostgreSQL database.

    Safe to share between coroutines (a connection pool) and between processes (transactions,
    leases and advisory locks). ``lease_seconds`` is how long a crashed process's conversation
    locks and slots stay taken.
    """

    backend = "postgresql"

    def __init__(self, url: str, *, pool_size: int = 10, lease_seconds: float = LEASE_SECONDS,
                 connect_timeout: float = CONNECT_TIMEOUT) -> None:
        self.url = url
        self.database = PostgresDatabase(url, pool_size=pool_size,
                                         connect_timeout=connect_timeout)
        self.leases = Leases(self.database, seconds=lease_seconds)
        self.executor = PostgresExecutor(self.database)
        self.preferences = Preferences(self.executor)
        self.talk = TalkTime(self.executor)
        self.limits = PostgresLimits(self.database, self.leases)
        self.bot_state = PostgresBotState(self.database)
        self.scrubber = Scrubber(url)
        self._holds = ScopeHolds(self.leases)
        # Turns added at once to one scope are stored in call order, as SQLite's one writer
        # does; the pool alone could commit them in any order.
        self._write_order = ScopeLocks()

    async def open(self, *, migrate: bool = True) -> None:
        """Connect and (unless told not to) bring the schema up to date; StoreUnavailable if
        the database cannot be reached or prepared."""
        await self.database.open(apply_pending if migrate else None)
        self.leases.start()

    async def close(self) -> None:
        """Vacuum what erasures left, release held leases and close the pool."""
        await self.scrubber.close()
        await self.leases.stop()
        await self.database.close()

    def hold(self, scope: str) -> AbstractAsyncContextManager[None]:
        """Hold the scope's conversation lock, across every process using the database."""
        return self._holds.hold(scope)

    async def schema_version(self) -> int:
        """The highest migration applied."""
        return await self.database.run(schema_version)

    async def migrate(self) -> list[int]:
        """Apply pending migrations; return the versions applied."""
        return await self.database.run(apply_pending, "cannot migrate")

    async def pending_migrations(self) -> list[str]:
        """Names of the shipped migrations not applied yet."""
        current = await self.schema_version()
        return [m.name for m in newer(load_migrations(), current)]

    async def recall(self, scope: str, *, limit: int | None = None
                     ) -> tuple[list[Turn], str | None]:
        """The scope's turns (as ``history``) and its persona, in one query."""
        rows = await self.database.fetch(_RECALL, scope, limit)
        if not rows:
            return [], None
        return [turn_from_row(row) for row in rows if row["id"] is not None], rows[0]["persona"]

    async def add_turn(self, scope: str, turn: Turn, usage: UsageRow | None = None) -> Kept:
        """Store a completed turn, and the usage it cost, unless an erasure forbids it: both
        or neither, once, however often retried."""
        members = [turn.speaker_id, usage.user_id if usage else turn.speaker_id]
        keys = [*map(_member_key, members)]
        if turn.source_message_id:
            keys.append(_message_key(turn.source_message_id))
        values = (members, turn.created_at, turn.source_message_id, scope, *turn_values(turn),
                  *usage_values(usage), uuid.uuid4().hex)

        async with self._write_order.hold(scope):
            blocked = await self.database.fetchval(_ADD_TURN, keys, *values)
        return erasures.verdict(blocked)

    async def replace_turn(self, scope: str, source_message_id: str, turn: Turn,
                           usage: UsageRow | None = None) -> Kept:
        """In one transaction: unless a tombstone forbids it (``sql.replace``), delete the
        scope's turn made from ``source_message_id`` and store ``turn`` and its usage."""
        members = [turn.speaker_id, usage.user_id if usage else turn.speaker_id]
        keys = [*map(_member_key, members), _message_key(source_message_id)]
        # No message for omnicord_add_turn to check: the edited rule differs here, so the
        # tombstones were checked (under the same locks) just before.
        values = (members, turn.created_at, None, scope, *turn_values(turn),
                  *usage_values(usage), uuid.uuid4().hex)

        async def swap(conn: Any) -> str | None:
            await conn.execute(_LOCK_SHARED, keys)
            blocked: str | None = await conn.fetchval(
                POSTGRESQL.sql(replace.BLOCKED), *members, turn.created_at, source_message_id)
            if blocked is not None:
                return blocked
            await conn.execute(replace.DELETE_OLD, source_message_id, scope)
            added: str | None = await conn.fetchval(_ADD_TURN, keys, *values)
            return added

        async with self._write_order.hold(scope):
            blocked = await self.database.transaction(swap)
        self.scrubber.touched(_TURN_TABLES)
        return erasures.verdict(blocked)

    async def add_usage(self, usage: UsageRow) -> bool:
        """Record one request's usage unless its member was erased since it began."""
        values = ([usage.user_id], usage.began_at, None, *usage_values(usage), utc_now(),
                  uuid.uuid4().hex)

        async def write(conn: Any) -> bool:
            await conn.execute(_LOCK_SHARED, [_member_key(usage.user_id)])
            return row_count(await conn.execute(_ADD_USAGE, *values)) > 0

        return await self.database.transaction(write)

    async def month_usage(self, key: str, month: str) -> list[tuple[str, int, int]]:
        """(model, prompt, completion) counted under ``key`` (``bot``, ``guild:<id>``) in
        ``month``."""
        return await month_usage(self.executor, key, month)

    async def claim_notice(self, key: str) -> bool:
        """True for the one caller that first claims ``key``."""
        return await claim_notice(self.executor, key)

    async def claim_command_sync(self, application_id: str, tree_hash: str, *,
                                 seconds: float = SYNC_CLAIM_SECONDS) -> str | None:
        """Claim the sync of ``tree_hash`` (one upsert: one process wins)."""
        return await self.bot_state.claim(application_id, tree_hash, seconds)

    async def set_command_tree_hash(self, application_id: str, tree_hash: str, *,
                                    claim: str | None = None) -> None:
        """Record that ``tree_hash`` was synced, ending ``claim`` if given."""
        await self.bot_state.set_hash(application_id, tree_hash, claim)

    async def release_command_sync(self, application_id: str, claim: str) -> None:
        """End a claim without recording a sync."""
        await self.bot_state.end_claim(application_id, claim)

    async def reset(self, scope: str) -> int:
        """Delete the scope's turns; return how many there were."""
        removed = await conversations.reset(self.executor, scope)
        if removed:
            self.scrubber.touched(_TURN_TABLES)
        return removed

    async def reset_place(self, scope: str, prefix: str) -> int:
        """Delete the turns of a place's conversations; return how many there were."""
        removed = await conversations.reset_place(self.executor, scope, prefix)
        if removed:
            self.scrubber.touched(_TURN_TABLES)
        return removed

    async def set_system_prompt(self, scope: str, prompt: str | None) -> None:
        """Set (or clear, with None) the scope's persona."""
        await self.database.execute(
            "INSERT INTO conversations (scope, system_prompt, updated_at) VALUES ($1, $2, $3)"
            " ON CONFLICT (scope) DO UPDATE SET system_prompt = excluded.system_prompt,"
            " updated_at = excluded.updated_at", scope,
            prompt if prompt is None else without_nul(prompt), utc_now())

    async def forget_messages(self, message_ids: Sequence[str], *,
                              why: Kept = Kept.DELETED) -> Removed:
        """Delete every turn made from, or answered by, one of these messages, and leave
        their tombstones, in one transaction."""
        ids = list(message_ids)
        if not ids:
            return Removed()
        erased_at = utc_now()

        async def forget(conn: Any) -> tuple[list[Any], tuple[str, ...]]:
            await conn.execute(_LOCK_ALONE, [_message_key(i) for i in ids])
            await conn.execute(_TOMBSTONES, why.value, ids, erased_at)
            return await _delete_turns(conn, _BY_MESSAGE, ids)

        rows, released = await self.database.transaction(forget)
        if rows:
            self.scrubber.touched(_TURN_TABLES)
        return Removed(turns=len(rows), released_media=released,
                       orphaned_replies=orphaned_replies(rows, ids))

    async def forget_member(self, user_id: str, *, own_scopes: Sequence[str] = ()) -> Removed:
        """Delete a member's turns, own conversations, preferences and usage, and leave their
        tombstone, in one transaction."""
        scopes = list(own_scopes)
        erased_at = utc_now()

        async def forget(conn: Any) -> Removed:
            await conn.execute(_LOCK_ALONE, [_member_key(user_id)])
            await conn.execute(_TOMBSTONES, erasures.MEMBER_ERASED, [user_id], erased_at)
            rows, released = await _delete_turns(conn, _BY_SPEAKER, user_id, scopes)
            await conn.execute("DELETE FROM conversations WHERE scope = ANY($1::text[])", scopes)
            preferences = row_count(await conn.execute(
                "DELETE FROM member_settings WHERE user_id = $1", user_id))
            usage = row_count(await conn.execute("DELETE FROM usage WHERE user_id = $1",
                                                 user_id))
            # Cooldown keys end in the member's id ("chat:<id>"): their last request time goes too.
            await conn.execute("DELETE FROM cooldowns WHERE key LIKE '%:' || $1", user_id)
            return Removed(len(rows), released, preferences, usage)

        removed = await self.database.transaction(forget)
        self.scrubber.touched(_MEMBER_TABLES)
        return removed

    async def prune_erasures(self, *, older_than: str) -> int:
        """Forget tombstones from before ``older_than``."""
        forgotten = await conversations.prune_erasures(self.executor, older_than=older_than)
        if forgotten:
            self.scrubber.touched(("erasures",))
        return forgotten

    async def scrub(self) -> None:
        """Vacuum now every table erasures left dead rows in."""
        await self.scrubber.flush()

    async def prune(self, *, turns_before: str, usage_before: str) -> Removed:
        """Delete turns created before ``turns_before`` and usage of days before
        ``usage_before``, a batch per transaction."""
        turns, released = 0, set[str]()
        while True:
            rows, freed = await self.database.transaction(
                lambda conn: _delete_turns(conn, erasures.OLDER_THAN, turns_before, PRUNE_BATCH))
            count = len(rows)
            turns += count
            released.update(freed)
            if count < PRUNE_BATCH:
                break
        usage = await conversations.prune_usage(self.executor, before_day=usage_before)
        if turns or usage:
            self.scrubber.touched((*_TURN_TABLES, "usage"))
        return Removed(turns=turns, released_media=tuple(sorted(released)), usage=usage)

    async def referenced_media(self, content_hashes: Sequence[str]) -> set[str]:
        """Which of these content hashes a stored turn refers to, in one query."""
        if not content_hashes:
            return set()
        rows = await self.database.fetch(_REFERENCED_MEDIA, list(content_hashes))
        return {row[0] for row in rows}

    async def export_rows(self, table: str, *, batch: int = 1000) -> AsyncIterator[list[Row]]:
        """Every row of one of ``COPY_TABLES``, in batches, in key order (text keys in byte
        order, as SQLite sorts them)."""
        columns = COPY_TABLES[check_table(table)]
        select = f"SELECT {', '.join(columns)} FROM {table}"
        database = self.database
        if columns[0] == "id":  # by key, so a big table is read in linear time
            last = 0
            query = f"{select} WHERE id > $1 ORDER BY id LIMIT $2"
            while rows := [tuple(r) for r in await database.fetch(query, last, batch)]:
                yield rows
                last = rows[-1][0]
            return
        order = ", ".join(f'{column} COLLATE "C"' for column in COPY_KEYS[table])
        rows = [tuple(r) for r in await database.fetch(f"{select} ORDER BY {order}")]
        for start in range(0, len(rows), batch):
            yield rows[start:start + batch]

    async def import_rows(self, table: str, rows: list[Row]) -> None:
        """Insert exported rows, keeping their ids, in one transaction; new rows' ids then
        continue above them."""
        columns = COPY_TABLES[check_table(table)]
        records = [row_without_nul(row) for row in rows]

        async def insert(conn: Any) -> None:
            if table in DERIVED_TABLES:  # replaces what the trigger counted from copied usage
                await conn.executemany(IMPORT_TOTALS, records)
                return
            await conn.copy_records_to_table(table, records=records, columns=list(columns))
            if columns[0] == "id":
                await conn.execute(
                    f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), max(id))"
                    f" FROM {table} HAVING max(id) IS NOT NULL")

        await self.database.transaction(insert)

    async def remove_rows(self, table: str, keys: list[Row]) -> None:
        """Delete the rows with these keys (``COPY_KEYS``), in one statement."""
        columns = COPY_KEYS[check_table(table)]
        arrays = [[key[i] for key in map(row_without_nul, keys)] for i in range(len(columns))]
        unnest = ", ".join(f"${n}::{'bigint' if column == 'id' else 'text'}[]"
                           for n, column in enumerate(columns, 1))
        await self.database.execute(
            f"DELETE FROM {table} WHERE ({', '.join(columns)}) IN"
            f" (SELECT * FROM unnest({unnest}))", *arrays)


_BY_MESSAGE = ("id IN (SELECT turn_id FROM turn_refs WHERE kind = 'message'"
               " AND ref = ANY($1::text[]))")
_BY_SPEAKER = ("speaker_id = $1 OR conversation_id IN (SELECT id FROM conversations"
               " WHERE scope = ANY($2::text[]))")
_REFERENCED_MEDIA = ("SELECT DISTINCT ref FROM turn_refs WHERE kind = 'media'"
                     " AND ref = ANY($1::text[])")


async def _delete_turns(conn: Any, where: str, *params: object
                        ) -> tuple[list[Any], tuple[str, ...]]:
    """Delete the turns matching ``where`` (their refs go with them): their rows (media and
    message ids), and the content hashes of their media that no remaining turn refers to."""
    rows: list[Any] = await conn.fetch(
        f"DELETE FROM turns WHERE {where} RETURNING {erasures.DELETED_COLUMNS}", *params)
    hashes = media_hashes(row["media_json"] for row in rows)
    if not hashes:
        return rows, ()
    still_used = {row[0] for row in await conn.fetch(
        "SELECT DISTINCT ref FROM turn_refs WHERE kind = 'media' AND ref = ANY($1::text[])",
        sorted(hashes))}
    return rows, tuple(sorted(hashes - still_used))
