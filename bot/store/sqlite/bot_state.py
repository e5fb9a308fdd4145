"""SQLite's claim to sync the slash commands. Each function runs inside the caller's write
transaction (SQLite's write lock), so a claim is taken by one process at a time."""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime, timedelta

from omnicord.store.records import utc_now
from omnicord.store.sql.bot_state import PUT, READ, command_claim_key, command_hash_key
from omnicord.store.sql.dialect import SQLITE


def iso_after(seconds: float) -> str:
    """The UTC time ``seconds`` from now, formatted as ``utc_now`` formats it."""
    later = datetime.now(UTC) + timedelta(seconds=seconds)
    return later.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def value(db: sqlite3.Connection, key: str) -> str | None:
    """The value kept under ``key`` (None: none)."""
    row = db.execute(SQLITE.sql(READ), (key,)).fetchone()
    return None if row is None else str(row[0])


def claim_sync(db: sqlite3.Connection, application_id: str, tree_hash: str, seconds: float,
               token: str) -> str | None:
    """Claim the sync of ``tree_hash`` unless it is synced or a live claim exists."""
    if value(db, command_hash_key(application_id)) == tree_hash:
        return None
    held = value(db, command_claim_key(application_id))
    if held is not None and held.split(" ", 1)[0] > utc_now():
        return None
    db.execute(SQLITE.sql(PUT), (command_claim_key(application_id),
                                 f"{iso_after(seconds)} {token}", utc_now()))
    return token


def end_claim(db: sqlite3.Connection, application_id: str, token: str) -> None:
    """Delete the application's claim if it is still ``token``'s."""
    db.execute("DELETE FROM bot_state WHERE key = ?"
               " AND substr(value, instr(value, ' ') + 1) = ?",
               (command_claim_key(application_id), token))


def set_hash(db: sqlite3.Connection, application_id: str, tree_hash: str,
             claim: str | None) -> None:
    """Record a sync of ``tree_hash``, ending ``claim`` if given."""
    db.execute(SQLITE.sql(PUT), (command_hash_key(application_id), tree_hash, utc_now()))
    if claim is not None:
        end_claim(db, application_id, claim)
