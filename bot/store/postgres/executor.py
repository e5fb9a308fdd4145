"""The PostgreSQL side of the executor seam: shared SQL through the pool's retry layer."""

from __future__ import annotations

from omnicord.store.postgres.database import PostgresDatabase
from omnicord.store.records import Row
from omnicord.store.sql.dialect import POSTGRESQL


class PostgresExecutor:
    """Runs shared SQL on a ``PostgresDatabase`` (retried on a lost connection)."""

    dialect = POSTGRESQL

    def __init__(self, database: PostgresDatabase) -> None:
        self._database = database

    async def fetch(self, sql: str, *args: object) -> list[Row]:
        """Every row the query returns."""
        return [tuple(row) for row in await self._database.fetch(sql, *args)]

    async def fetchrow(self, sql: str, *args: object) -> Row | None:
        """The query's first row (None: no row)."""
        row = await self._database.fetchrow(sql, *args)
        return None if row is None else tuple(row)

    async def execute(self, sql: str, *args: object) -> int:
        """Run one statement; the rows it changed."""
        return row_count(await self._database.execute(sql, *args))


def row_count(status: str) -> int:
    """The row count of a command status such as ``DELETE 3`` or ``INSERT 0 1``."""
    return int(status.split()[-1])
