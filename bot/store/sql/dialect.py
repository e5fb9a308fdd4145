"""The executor seam: what a backend gives the SQL written once for both.

Shared SQL is spelled with PostgreSQL's numbered ``$n`` placeholders. SQLite reads the same
numbers as ``?n``, so translating is a rewrite of the marks and nothing else.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass
from typing import Protocol

from omnicord.store.records import Row

_MARK = re.compile(r"\$(\d+)")


@dataclass(frozen=True)
class Dialect:
    """How one backend spells the little that differs in otherwise shared SQL."""

    name: str
    mark: str  # the n-th placeholder, as a format string of n
    byte_order: str  # a COLLATE clause sorting text by its bytes ("" where that is the default)

    def sql(self, text: str) -> str:
        """``text`` (written with ``$n`` placeholders) as this backend's driver takes it."""
        return _translate(self.mark, text)


@functools.lru_cache(maxsize=512)
def _translate(mark: str, text: str) -> str:
    return _MARK.sub(lambda match: mark.format(match[1]), text)


SQLITE = Dialect("sqlite", "?{}", "")  # SQLite compares text with BINARY: byte order already
POSTGRESQL = Dialect("postgresql", "${}", ' COLLATE "C"')


class Executor(Protocol):
    """Runs shared SQL (``$n`` placeholders) on one backend; rows come back as tuples."""

    dialect: Dialect

    async def fetch(self, sql: str, *args: object) -> list[Row]:
        """Every row the query returns."""

    async def fetchrow(self, sql: str, *args: object) -> Row | None:
        """The query's first row (None: no row)."""

    async def execute(self, sql: str, *args: object) -> int:
        """Run one statement in a transaction of its own; the rows it changed."""
