"""What both stores do the same way through their executor: one base class they share."""

from __future__ import annotations

from typing import Self

from omnicord.store.copy import check_table
from omnicord.store.records import DailyUsage, Turn
from omnicord.store.sql import bot_state, conversations, usage
from omnicord.store.sql.dialect import Executor


class SharedQueries:
    """The store methods written once: reads and reports whose SQL both dialects agree on.

    A store sets ``executor`` and implements ``open``, ``close`` and ``recall``.
    """

    executor: Executor

    async def open(self, *, migrate: bool = True) -> None:
        raise NotImplementedError

    async def close(self) -> None:
        raise NotImplementedError

    async def recall(self, scope: str, *, limit: int | None = None
                     ) -> tuple[list[Turn], str | None]:
        raise NotImplementedError

    async def __aenter__(self) -> Self:
        await self.open()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()

    async def history(self, scope: str, *, limit: int | None = None) -> list[Turn]:
        """The scope's turns, oldest first (only the newest ``limit`` when given)."""
        turns, _ = await self.recall(scope, limit=limit)
        return turns

    async def system_prompt(self, scope: str) -> str | None:
        """The scope's own persona, if one was set."""
        return await conversations.system_prompt(self.executor, scope)

    async def turn_for_message(self, message_id: str) -> tuple[str, Turn] | None:
        """(scope, turn) of the stored turn made from, or answered by, a message."""
        return await conversations.turn_for_message(self.executor, message_id)

    async def place_history(self, scope: str, prefix: str, *, limit: int | None = None
                            ) -> list[tuple[str, Turn]]:
        """(scope, turn) of a place's conversations, oldest first."""
        return await conversations.place_history(self.executor, scope, prefix, limit=limit)

    async def recent_sources(self, *, since: str, limit: int) -> list[tuple[str, str]]:
        """(scope, message id) of the newest turns made from a Discord message since then."""
        return await conversations.recent_sources(self.executor, since=since, limit=limit)

    async def usage_by_model(
        self, *, since_day: str, user_id: str | None = None, guild_id: str | None = None
    ) -> list[tuple[str, int, int]]:
        """(model, prompt tokens, completion tokens) since a day, for a member and/or server."""
        return await usage.usage_by_model(self.executor, since_day=since_day, user_id=user_id,
                                          guild_id=guild_id)

    async def usage_by_day(
        self, *, since_day: str, until_day: str | None = None, user_id: str | None = None,
        guild_id: str | None = None,
    ) -> list[DailyUsage]:
        """(day, model, prompt, completion) per day and model, oldest day first."""
        return await usage.usage_by_day(self.executor, since_day=since_day, until_day=until_day,
                                        user_id=user_id, guild_id=guild_id)

    async def command_tree_hash(self, application_id: str) -> str | None:
        """The hash of the slash commands last synced for an application."""
        return await bot_state.command_tree_hash(self.executor, application_id)

    async def count_rows(self, table: str) -> int:
        """How many rows one of ``COPY_TABLES`` holds."""
        row = await self.executor.fetchrow(f"SELECT count(*) FROM {check_table(table)}")
        return int(row[0]) if row else 0
