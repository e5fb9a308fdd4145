"""Messages deleted while the bot was away: Discord sends no event for them, so at a new
gateway session the members' messages behind recent stored turns are looked up again.

Only conversations this process serves are checked (its shards' servers; DMs on the process
with shard 0), each message with one REST call paced by discord.py's rate limits. A message
Discord no longer has, or one in a channel Discord no longer has, counts as deleted; one the
bot may not read (permissions changed) is left alone.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

import discord

log = logging.getLogger("omnicord.privacy")

#: Where the messages of a channel were deleted: channel id ("" for a channel that is gone)
#: and the ids of its members' messages Discord no longer has.
Vanished = dict[str, list[str]]


async def vanished_messages(bot: discord.Client, sources: Sequence[tuple[str, str]]) -> Vanished:
    """Of (scope, message id) pairs, the messages Discord no longer has, by channel."""
    vanished: Vanished = {}
    channels: dict[str, _Where] = {}
    for scope, message_id in sources:
        if scope not in channels:
            channels[scope] = await _channel(bot, scope)
        channel = channels[scope]
        if channel is None:
            continue
        if isinstance(channel, _Gone):
            vanished.setdefault("", []).append(message_id)
            continue
        if await _gone(channel, int(message_id)):
            vanished.setdefault(str(channel.id), []).append(message_id)  # type: ignore[attr-defined]
    return vanished


class _Gone(discord.Object):
    """A channel Discord no longer has: every message in it is gone."""


_Where = discord.abc.Messageable | _Gone | None


async def _channel(bot: discord.Client, scope: str) -> _Where:
    """The channel of a conversation scope, if this process serves it (else None)."""
    kind, _, raw_id = scope.partition(":")
    if kind == "chain":  # a reply chain: chain:<channel or thread id>:<its first message id>
        kind, raw_id = "channel", raw_id.partition(":")[0]
    if not raw_id.isdecimal() or kind not in ("channel", "thread", "dm"):
        return None  # a command-line session, say
    if kind == "dm":
        if not _serves_dms(bot):
            return None
        try:
            return await bot.create_dm(discord.Object(int(raw_id)))
        except discord.HTTPException:
            return None
    channel = bot.get_channel(int(raw_id))
    if channel is not None:
        return channel if isinstance(channel, discord.abc.Messageable) else None
    try:
        fetched = await bot.fetch_channel(int(raw_id))
    except discord.NotFound:
        return _Gone(int(raw_id))
    except discord.HTTPException:
        return None
    guild_id = getattr(fetched, "guild_id", None) or getattr(getattr(fetched, "guild", None),
                                                             "id", None)
    if guild_id is not None and not _serves_guild(bot, int(guild_id)):
        return None  # another process's shard checks it
    return fetched if isinstance(fetched, discord.abc.Messageable) else None


async def _gone(channel: discord.abc.Messageable, message_id: int) -> bool:
    try:
        await channel.fetch_message(message_id)
    except discord.NotFound:
        return True
    except discord.HTTPException as error:  # no access any more, or Discord is unwell
        log.debug("could not look up message %s: %s", message_id, error.status)
    return False


def _shards(bot: discord.Client) -> tuple[int | None, list[int]]:
    """The shard count and this process's shards (None, [] when not sharded)."""
    count = bot.shard_count
    ids = getattr(bot, "shard_ids", None)
    if ids is None:
        ids = [bot.shard_id] if bot.shard_id is not None else []
    return count, list(ids)


def _serves_guild(bot: discord.Client, guild_id: int) -> bool:
    count, ids = _shards(bot)
    return not count or not ids or (guild_id >> 22) % count in ids


def _serves_dms(bot: discord.Client) -> bool:
    count, ids = _shards(bot)
    return not count or not ids or 0 in ids
