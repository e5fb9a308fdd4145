"""Moving everything one store holds into another, such as a server's SQLite file into the
PostgreSQL database of a bot that outgrew one process."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from omnicord.errors import InputError
from omnicord.store.base import COPY_TABLES, Store


class CopyRefused(InputError):
    """The copy cannot start, or its result does not match the source."""


@dataclass(frozen=True)
class TableCopied:
    """One table's rows in the source, and in the target after the copy."""

    table: str
    source_rows: int
    target_rows: int


async def copy_store(source: Store, target: Store, *, batch: int = 1000,
                     progress: Callable[[str, int], None] | None = None) -> list[TableCopied]:
    """Copy every table of ``source`` into the empty ``target``, ids kept, then verify counts.

    The target must hold no rows, so a copy never merges two histories; an interrupted copy
    is started again on a fresh target. CopyRefused if the counts differ afterwards.
    """
    await _require_empty(target)
    copied = []
    for table in COPY_TABLES:
        async for rows in source.export_rows(table, batch=batch):
            await target.import_rows(table, rows)
            if progress:
                progress(table, len(rows))
        copied.append(TableCopied(table, await source.count_rows(table),
                                  await target.count_rows(table)))
    short = [c for c in copied if c.source_rows != c.target_rows]
    if short:
        raise CopyRefused("the copy does not match its source: " + ", ".join(
            f"{c.table} {c.target_rows:,} of {c.source_rows:,} rows" for c in short))
    return copied


async def _require_empty(target: Store) -> None:
    filled = [(table, n) for table in COPY_TABLES if (n := await target.count_rows(table))]
    if filled:
        table, rows = filled[0]
        raise CopyRefused(f"the target already holds data ({table}: {rows:,} rows); copy into "
                          "an empty database")
