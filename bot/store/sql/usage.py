"""Usage reports, written once for both backends."""

from __future__ import annotations

from omnicord.store.records import DailyUsage
from omnicord.store.sql.dialect import Executor


def usage_filter(since_day: str, *, until_day: str | None = None, user_id: str | None = None,
                 guild_id: str | None = None) -> tuple[str, list[str]]:
    """The WHERE condition choosing usage rows (from a day, up to a day, for a member and/or
    server) and its parameters."""
    where, params = ["day >= $1"], [since_day]
    for column, test, given in (("day", "<=", until_day), ("user_id", "=", user_id),
                                ("guild_id", "=", guild_id)):
        if given is not None:
            params.append(given)
            where.append(f"{column} {test} ${len(params)}")
    return " AND ".join(where), params


async def usage_by_model(executor: Executor, *, since_day: str, user_id: str | None = None,
                         guild_id: str | None = None) -> list[tuple[str, int, int]]:
    """(model, prompt tokens, completion tokens) since a day, for a member and/or server."""
    where, params = usage_filter(since_day, user_id=user_id, guild_id=guild_id)
    rows = await executor.fetch(
        "SELECT model, SUM(prompt_tokens), SUM(completion_tokens) FROM usage"
        f" WHERE {where} GROUP BY model", *params)
    return [(row[0], int(row[1]), int(row[2])) for row in rows]


async def usage_by_day(executor: Executor, *, since_day: str, until_day: str | None = None,
                       user_id: str | None = None, guild_id: str | None = None
                       ) -> list[DailyUsage]:
    """(day, model, prompt, completion) per day and model, oldest day first (models in byte
    order on both backends)."""
    where, params = usage_filter(since_day, until_day=until_day, user_id=user_id,
                                 guild_id=guild_id)
    rows = await executor.fetch(
        "SELECT day, model, SUM(prompt_tokens), SUM(completion_tokens) FROM usage"
        f" WHERE {where} GROUP BY day, model"
        f" ORDER BY day, model{executor.dialect.byte_order}", *params)
    return [(row[0], row[1], int(row[2]), int(row[3])) for row in rows]
