"""The SQLite side of the executor seam: shared SQL on the reader, or one write transaction."""

from __future__ import annotations

import sqlite3

from omnicord.store.records import Row
from omnicord.store.sql.dialect import SQLITE
from omnicord.store.sqlite.database import SqliteDatabase


class SqliteExecutor:
    """Runs shared SQL on a ``SqliteDatabase``: reads on its reader, each statement written in
    a transaction of its own by its writer."""

    dialect = SQLITE

    def __init__(self, database: SqliteDatabase) -> None:
        self._database = database

    async def fetch(self, sql: str, *args: object) -> list[Row]:
        """Every row the query returns."""
        query = SQLITE.sql(sql)

        def fetch(db: sqlite3.Connection) -> list[Row]:
            return [tuple(row) for row in db.execute(query, args).fetchall()]

        return await self._database.read(fetch)

    async def fetchrow(self, sql: str, *args: object) -> Row | None:
        """The query's first row (None: no row)."""
        query = SQLITE.sql(sql)

        def fetchrow(db: sqlite3.Connection) -> Row | None:
            row = db.execute(query, args).fetchone()
            return None if row is None else tuple(row)

        return await self._database.read(fetchrow)

    async def execute(self, sql: str, *args: object) -> int:
        """Run one statement in a write transaction; the rows it changed."""
        query = SQLITE.sql(sql)
        return await self._database.write(lambda db: db.execute(query, args).rowcount)
