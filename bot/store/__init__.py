"""Storage: the interface callers use, and its SQLite and PostgreSQL implementations."""

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from omnicord.media.types import MediaRef
from omnicord.store.base import ConversationStore, Store, Turn
from omnicord.store.sqlite import SqliteStore
from omnicord.store.urls import is_postgresql_url, sqlite_path

__all__ = ["ConversationStore", "MediaRef", "SqliteStore", "Store", "Turn", "open_store",
           "store_for"]


def store_for(database: str, *, pool_size: int = 10) -> Store:
    """The (unopened) store OMNICORD_DB names: a SQLite file or a PostgreSQL URL."""
    if is_postgresql_url(database):
        from omnicord.store.postgres import PostgresStore  # needs asyncpg, only installed for it

        return PostgresStore(database, pool_size=pool_size)
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
