"""``bot_state``: the hash of the slash commands last synced and the claim to sync them.

The keys and the plain reads and writes are shared; how a claim is taken atomically is each
backend's own (``sqlite.bot_state``, ``postgres.bot_state``).
"""

from __future__ import annotations

from omnicord.store.sql.dialect import Executor

#: The value kept under a key ($1).
READ = "SELECT value FROM bot_state WHERE key = $1"
#: Keep a value ($2) under a key ($1), as of a time ($3).
PUT = ("INSERT INTO bot_state (key, value, updated_at) VALUES ($1, $2, $3)"
       " ON CONFLICT (key) DO UPDATE SET value = excluded.value,"
       " updated_at = excluded.updated_at")


def command_hash_key(application_id: str) -> str:
    """The ``bot_state`` key of the hash of an application's slash commands last synced."""
    return f"commands:{application_id}"


def command_claim_key(application_id: str) -> str:
    """The ``bot_state`` key of the claim to sync an application's slash commands: its value
    is ``"<expiry> <token>"``, the expiry an ISO 8601 UTC time."""
    return f"commands-sync:{application_id}"


async def command_tree_hash(executor: Executor, application_id: str) -> str | None:
    """The hash of the slash commands last synced for an application (None: never)."""
    row = await executor.fetchrow(READ, command_hash_key(application_id))
    return None if row is None else str(row[0])
