"""Conversation, erasure and retention queries the two dialects agree on, written once."""

from __future__ import annotations

from omnicord.store.sql.dialect import Executor

_RECENT_SOURCES = """
    SELECT c.scope, t.source_message_id FROM turns t
    JOIN conversations c ON c.id = t.conversation_id
    WHERE t.source_message_id IS NOT NULL AND t.created_at >= $1
    ORDER BY t.id DESC LIMIT $2"""


async def reset(executor: Executor, scope: str) -> int:
    """Delete the scope's turns; how many there were."""
    return await executor.execute(
        "DELETE FROM turns WHERE conversation_id IN"
        " (SELECT id FROM conversations WHERE scope = $1)", scope)


async def system_prompt(executor: Executor, scope: str) -> str | None:
    """The scope's own persona, if one was set."""
    row = await executor.fetchrow(
        "SELECT system_prompt FROM conversations WHERE scope = $1", scope)
    return None if row is None else row[0]


async def recent_sources(executor: Executor, *, since: str, limit: int
                         ) -> list[tuple[str, str]]:
    """(scope, message id) of the newest ``limit`` turns made from a Discord message since
    ``since``, newest first."""
    return [(row[0], row[1]) for row in await executor.fetch(_RECENT_SOURCES, since, limit)]


async def prune_erasures(executor: Executor, *, older_than: str) -> int:
    """Forget tombstones from before ``older_than``; how many."""
    return await executor.execute("DELETE FROM erasures WHERE erased_at < $1", older_than)


async def prune_usage(executor: Executor, *, before_day: str) -> int:
    """Delete usage of days before ``before_day``; how many rows."""
    return await executor.execute("DELETE FROM usage WHERE day < $1", before_day)
