"""What channels and threads chose for themselves (``channel_settings``), for both backends."""

from __future__ import annotations

from omnicord.store.records import ConversationMode, PlaceSettings, utc_now
from omnicord.store.rows import storable
from omnicord.store.sql.dialect import Executor

_SAVE = (
    "INSERT INTO channel_settings (channel_id, guild_id, conversation, system_prompt, model,"
    " updated_at) VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (channel_id) DO UPDATE SET"
    " conversation = excluded.conversation, system_prompt = excluded.system_prompt,"
    " model = excluded.model, updated_at = excluded.updated_at")


async def place(executor: Executor, channel_id: str) -> PlaceSettings:
    """A channel's or thread's own settings (all None when it never set any)."""
    row = await executor.fetchrow(
        "SELECT conversation, system_prompt, model FROM channel_settings WHERE channel_id = $1",
        channel_id)
    if row is None:
        return PlaceSettings()
    mode, prompt, model = row
    return PlaceSettings(ConversationMode(mode) if mode else None, prompt, model)


async def save_place(executor: Executor, guild_id: str, channel_id: str,
                     chosen: PlaceSettings) -> None:
    """Replace a channel's or thread's own settings (its chat and caption switches stay)."""
    mode = chosen.conversation.value if chosen.conversation else None
    await executor.execute(_SAVE, channel_id, guild_id, mode, storable(chosen.system_prompt),
                           chosen.model, utc_now())
