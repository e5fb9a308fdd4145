"""Monthly totals for budgets, and the once-only notice claim, written once for both backends.

``usage_months`` is kept by the database itself (migration 0013's trigger on ``usage``): this
only reads it, and writes it when a copy brings a source's totals over. Each total is kept in
stripes (migration 0016: by the last two characters of the usage row's channel id) so writers
in different channels never wait for one row; a total is the sum of its stripes.
"""

from __future__ import annotations

import os

from omnicord.store.records import utc_now
from omnicord.store.sql.bot_state import READ
from omnicord.store.sql.dialect import Executor

#: The key of the whole bot's totals; a server's is ``guild_key(guild_id)``.
BOT_KEY = "bot"

#: A copied row of ``usage_months`` replaces what the target counted from the copied usage
#: rows (so the target ends with the source's totals, erased members' spend included).
IMPORT_TOTALS = (
    "INSERT INTO usage_months (key, month, model, stripe, prompt_tokens, completion_tokens)"
    " VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (key, month, model, stripe) DO UPDATE SET"
    " prompt_tokens = excluded.prompt_tokens, completion_tokens = excluded.completion_tokens")

_CLAIM = ("INSERT INTO bot_state (key, value, updated_at) VALUES ($1, $2, $3)"
          " ON CONFLICT (key) DO NOTHING")


def guild_key(guild_id: str) -> str:
    """The ``usage_months`` key of a server's totals."""
    return f"guild:{guild_id}"


async def month_usage(executor: Executor, key: str, month: str) -> list[tuple[str, int, int]]:
    """(model, prompt tokens, completion tokens) counted under ``key`` in ``month``
    (``YYYY-MM``), models in byte order."""
    rows = await executor.fetch(
        "SELECT model, SUM(prompt_tokens), SUM(completion_tokens) FROM usage_months"
        " WHERE key = $1 AND month = $2 GROUP BY model"
        f" ORDER BY model{executor.dialect.byte_order}", key, month)
    return [(row[0], int(row[1]), int(row[2])) for row in rows]


async def claim_notice(executor: Executor, key: str) -> bool:
    """Whether this caller is the one to give the notice ``key``: the first to insert it.
    The value is a token of this call, so a claim retried after a lost connection is still
    recognised as this caller's."""
    token = os.urandom(16).hex()
    await executor.execute(_CLAIM, key, token, utc_now())
    row = await executor.fetchrow(READ, key)
    return row is not None and row[0] == token
