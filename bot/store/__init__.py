"""Storage: the interface callers use, and its SQLite and PostgreSQL implementations.

Other layers import ``records`` (what is kept) and ``interface`` (the protocols), or the
names below. The backends (``sqlite``, ``postgres``) load when first used
(``omnicord.settings`` imports only ``omnicord.store.urls``), so commands that never open the
store start faster.
"""

from __future__ import annotations

import importlib
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING, Any

from omnicord.store.urls import is_postgresql_url, sqlite_path

if TYPE_CHECKING:
    from omnicord.media.types import MediaRef
    from omnicord.store.interface import ConversationStore, Store
    from omnicord.store.postgres.store import PostgresStore
    from omnicord.store.records import Turn
    from omnicord.store.sqlite.store import SqliteStore

__all__ = ["ConversationStore", "MediaRef", "PostgresStore", "SqliteStore", "Store", "Turn",
           "open_store", "store_for"]
#: Names this package offers, by the module that defines them (imported on first use).
_LAZY = {"ConversationStore": "omnicord.store.interface", "Store": "omnicord.store.interface",
         "Turn": "omnicord.store.records", "MediaRef": "omnicord.media.types",
         "SqliteStore": "omnicord.store.sqlite.store",
         "PostgresStore": "omnicord.store.postgres.store"}


def __getattr__(name: str) -> Any:
    if name not in _LAZY:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(_LAZY[name]), name)


def store_for(database: str, *, pool_size: int = 10) -> Store:
    """The (unopened) store OMNICORD_DB names: a SQLite file or a PostgreSQL URL."""
    if is_postgresql_url(database):
        from omnicord.store.postgres.store import PostgresStore  # needs asyncpg (an extra)

        return PostgresStore(database, pool_size=pool_size)
    from omnicord.store.sqlite.store import SqliteStore

    return SqliteStore(sqlite_path(database))


@asynccontextmanager
async def open_store(database: str, *, pool_size: int = 10, migrate: bool = True
                     ) -> AsyncIterator[Store]:
    """The store OMNICORD_DB names, opened (and migrated) for the block, closed after."""
    store = store_for(database, pool_size=pool_size)
    await store.open(migrate=migrate)
    try:
        yield store
    finally:
        await store.close()
