"""Moving everything one store holds into another, such as a server's SQLite file into the
PostgreSQL database of a bot that outgrew one process."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from omnicord.errors import InputError
from omnicord.store.interface import Store
from omnicord.store.records import Row

#: The tables ``omnicord db copy`` moves, parents first, with the columns both backends share.
COPY_TABLES: dict[str, tuple[str, ...]] = {
    "conversations": ("id", "scope", "system_prompt", "created_at", "updated_at"),
    "turns": ("id", "conversation_id", "speaker_id", "speaker_name", "text", "media_json",
              "reply_text", "model", "usage_json", "created_at", "replied_at",
              "source_message_id", "reply_message_ids"),
    "usage": ("id", "day", "guild_id", "channel_id", "user_id", "model", "prompt_tokens",
              "completion_tokens", "created_at"),
    # After usage: the target's trigger counted the copied usage rows; these replace those
    # totals with the source's (erased members' and pruned days' spend included).
    "usage_months": ("key", "month", "model", "stripe", "prompt_tokens", "completion_tokens"),
    "guild_settings": ("guild_id", "model", "voice", "reply_mode", "thinking", "system_prompt",
                       "daily_token_cap", "updated_at", "caption_language",
                       "monthly_token_budget", "monthly_money_budget", "language"),
    "member_settings": ("guild_id", "user_id", "voice", "reply_mode", "updated_at",
                        "caption_language", "language"),
    "channel_settings": ("channel_id", "guild_id", "chat", "auto_caption", "updated_at",
                         "caption_mode", "conversation", "system_prompt", "model"),
    "guild_access": ("guild_id", "target", "updated_at"),
    "talk_settings": ("guild_id", "enabled", "minutes_per_day", "idle_minutes", "caption_members",
                      "roles", "updated_at"),
    "talk_time": ("guild_id", "day", "seconds"),
}

#: Each copied table's key: its leading columns in ``COPY_TABLES`` (text: a table without ids
#: is exported in the order of its key's bytes).
COPY_KEYS: dict[str, tuple[str, ...]] = {
    "conversations": ("id",), "turns": ("id",), "usage": ("id",),
    "usage_months": ("key", "month", "model", "stripe"),
    "guild_settings": ("guild_id",), "member_settings": ("guild_id", "user_id"),
    "channel_settings": ("channel_id",), "guild_access": ("guild_id", "target"),
    "talk_settings": ("guild_id",), "talk_time": ("guild_id", "day"),
}


#: Tables the target's database also writes itself while rows are copied (its trigger counts
#: each usage row into ``usage_months``): importing them replaces what it wrote, and undoing a
#: failed copy removes all of theirs (the target was empty when the copy began).
DERIVED_TABLES = ("usage_months",)


def check_table(table: str) -> str:
    """``table`` if it is one of ``COPY_TABLES`` (safe to put in SQL), else ValueError."""
    if table not in COPY_TABLES:
        raise ValueError(f"unknown table {table!r}")
    return table


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

    The target must hold no rows, so a copy never merges two histories. A copy that fails
    part-way removes what it imported (children first), so the same copy can simply be run
    again: CopyRefused saying what failed. CopyRefused too if the counts differ afterwards.
    """
    await _require_empty(target)
    imported: dict[str, list[Row]] = {}  # each table's keys, of rows that may be in the target
    table = next(iter(COPY_TABLES))
    try:
        copied = []
        for table in COPY_TABLES:
            keys = imported.setdefault(table, [])
            async for rows in source.export_rows(table, batch=batch):
                keys += [row[:len(COPY_KEYS[table])] for row in rows]  # before: it may commit
                await target.import_rows(table, rows)
                if progress:
                    progress(table, len(rows))
            copied.append(TableCopied(table, await source.count_rows(table),
                                      await target.count_rows(table)))
        _check_counts(copied)
    except Exception as error:
        raise CopyRefused(await _undo(target, imported, _failure(table, error))) from None
    except BaseException:  # interrupted: leave nothing half-copied either
        await _undo(target, imported, "")
        raise
    return copied


def _check_counts(copied: list[TableCopied]) -> None:
    short = [c for c in copied if c.source_rows != c.target_rows]
    if short:
        raise CopyRefused("the copy does not match its source: " + ", ".join(
            f"{c.table} {c.target_rows:,} of {c.source_rows:,} rows" for c in short))


def _failure(table: str, error: Exception) -> str:
    if isinstance(error, CopyRefused):
        return str(error)
    why = " ".join(str(error).split()) or type(error).__name__
    return f"copying {table} failed: {why}"


async def _undo(target: Store, imported: dict[str, list[Row]], failure: str) -> str:
    """Remove the imported rows, children first; ``failure`` and what became of them."""
    try:
        for table in DERIVED_TABLES:
            imported[table] = [row[:len(COPY_KEYS[table])]
                               async for rows in target.export_rows(table) for row in rows]
        for table, keys in reversed(imported.items()):
            for start in range(0, len(keys), _UNDO_BATCH):
                await target.remove_rows(table, keys[start:start + _UNDO_BATCH])
    except Exception as error:
        why = " ".join(str(error).split()) or type(error).__name__
        return (f"{failure}; removing the rows already copied failed too ({why}): empty the "
                "target database before copying again")
    return (f"{failure}; the rows already copied were removed, so the target is empty again: "
            "run the same copy again once that is fixed")


#: Keys deleted per statement when a failed copy is undone.
_UNDO_BATCH = 5000


async def _require_empty(target: Store) -> None:
    filled = [(table, n) for table in COPY_TABLES if (n := await target.count_rows(table))]
    if filled:
        table, rows = filled[0]
        raise CopyRefused(f"the target already holds data ({table}: {rows:,} rows); copy into "
                          "an empty database")
