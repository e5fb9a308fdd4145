"""PostgreSQL's claim to sync the slash commands, and the record of a sync. Claiming and
recording a sync take one transaction-level advisory lock per application, so they never
interleave: of processes starting together (on any hosts) exactly
one claims a tree, and none claims it once it is recorded. Claims expire on the database's
clock."""

from __future__ import annotations

import uuid
from typing import Any

from omnicord.store.postgres.database import PostgresDatabase
from omnicord.store.records import utc_now
from omnicord.store.sql.bot_state import PUT, command_claim_key, command_hash_key

_ISO = "'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"'"  # utc_now's format
_NOW = f"to_char(clock_timestamp() AT TIME ZONE 'UTC', {_ISO})"

# Inserted, or taken over from an expired claim; nothing while the tree is synced already.
# (Claims, recordings and ends are idempotent: the store retries them on a lost connection.)
_CLAIM = f"""
    INSERT INTO bot_state AS held (key, value, updated_at)
    SELECT $1, to_char(clock_timestamp() AT TIME ZONE 'UTC' + make_interval(secs => $4),
                       {_ISO}) || ' ' || $5, {_NOW}
    WHERE NOT EXISTS (SELECT 1 FROM bot_state WHERE key = $2 AND value = $3)
    ON CONFLICT (key) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at
    WHERE split_part(held.value, ' ', 1) < excluded.updated_at
       OR split_part(held.value, ' ', 2) = $5  -- ours already: a retried claim
    RETURNING true"""

_END_CLAIM = "DELETE FROM bot_state WHERE key = $1 AND split_part(value, ' ', 2) = $2"

_LOCK = "SELECT pg_advisory_xact_lock(hashtextextended($1, 0))"


class PostgresBotState:
    """The slash-command sync state of every application using the database."""

    def __init__(self, database: PostgresDatabase) -> None:
        self.database = database

    async def claim(self, application_id: str, tree_hash: str, seconds: float) -> str | None:
        """A claim token if this caller should sync ``tree_hash`` now, else None."""
        token = uuid.uuid4().hex
        claim_key = command_claim_key(application_id)

        async def claim(conn: Any) -> bool:
            await conn.execute(_LOCK, claim_key)
            return bool(await conn.fetchval(_CLAIM, claim_key, command_hash_key(application_id),
                                            tree_hash, float(seconds), token))

        return token if await self.database.transaction(claim) else None

    async def set_hash(self, application_id: str, tree_hash: str, claim: str | None) -> None:
        """Record a sync of ``tree_hash`` and end ``claim``, in one transaction."""
        claim_key = command_claim_key(application_id)

        async def record(conn: Any) -> None:
            await conn.execute(_LOCK, claim_key)
            await conn.execute(PUT, command_hash_key(application_id), tree_hash, utc_now())
            if claim is not None:
                await conn.execute(_END_CLAIM, claim_key, claim)

        await self.database.transaction(record)

    async def end_claim(self, application_id: str, claim: str) -> None:
        """Delete the application's claim if it is still ``claim``."""
        await self.database.execute(_END_CLAIM, command_claim_key(application_id), claim)
