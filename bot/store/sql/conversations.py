"""Conversation, erasure and retention queries the two dialects agree on, written once."""

from __future__ import annotations

from omnicord.store.records import Turn
from omnicord.store.rows import turn_from_row
from omnicord.store.sql.dialect import Executor

_RECENT_SOURCES = """
    SELECT c.scope, t.source_message_id FROM turns t
    JOIN conversations c ON c.id = t.conversation_id
    WHERE t.source_message_id IS NOT NULL AND t.created_at >= $1
    ORDER BY t.id DESC LIMIT $2"""


_TURN_COLUMNS = ("speaker_id", "speaker_name", "text", "reply_text", "model", "media_json",
                 "usage_json", "created_at", "replied_at", "source_message_id",
                 "reply_message_ids")

_TURN_OF_MESSAGE = f"""
    SELECT c.scope, {", ".join(f"t.{column}" for column in _TURN_COLUMNS)}
    FROM turn_refs r JOIN turns t ON t.id = r.turn_id
    JOIN conversations c ON c.id = t.conversation_id
    WHERE r.kind = 'message' AND r.ref = $1
    ORDER BY t.id DESC LIMIT 1"""


async def turn_for_message(executor: Executor, message_id: str) -> tuple[str, Turn] | None:
    """(scope, turn) of the stored turn made from, or answered by, a message; None if none."""
    row = await executor.fetchrow(_TURN_OF_MESSAGE, message_id)
    return None if row is None else _placed(row)


def _placed(row: tuple[object, ...]) -> tuple[str, Turn]:
    """(scope, turn) of a row of the scope then ``_TURN_COLUMNS``."""
    return str(row[0]), turn_from_row(dict(zip(_TURN_COLUMNS, row[1:], strict=True)))


_PLACE = "c.scope = $1 OR c.scope LIKE $2 ESCAPE '!'"

_PLACE_HISTORY = f"""
    SELECT c.scope, {", ".join(f"t.{column}" for column in _TURN_COLUMNS)}
    FROM turns t JOIN conversations c ON c.id = t.conversation_id
    WHERE {_PLACE} ORDER BY t.id DESC LIMIT $3"""


def _like_prefix(prefix: str) -> str:
    """A LIKE pattern matching text that starts with ``prefix`` (its wildcards escaped)."""
    return prefix.replace("!", "!!").replace("%", "!%").replace("_", "!_") + "%"


async def place_history(executor: Executor, scope: str, prefix: str, *, limit: int | None
                        ) -> list[tuple[str, Turn]]:
    """(scope, turn) of ``scope`` and of every conversation whose scope starts with
    ``prefix``, oldest first (only the newest ``limit`` when given)."""
    rows = await executor.fetch(_PLACE_HISTORY, scope, _like_prefix(prefix),
                                limit if limit is not None else 2**62)
    return [_placed(row) for row in reversed(rows)]


async def reset_place(executor: Executor, scope: str, prefix: str) -> int:
    """Delete the turns of ``scope`` and of every conversation under ``prefix``; how many."""
    return await executor.execute(
        "DELETE FROM turns WHERE conversation_id IN"
        f" (SELECT c.id FROM conversations c WHERE {_PLACE})", scope, _like_prefix(prefix))


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
