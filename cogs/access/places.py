"""Where a message happens: the conversation scope and the server key it belongs to."""

from __future__ import annotations

import discord
from omnicord.policy.preferences import Place


def scope_for(channel: discord.abc.Snowflake | None, user: discord.abc.User) -> str:
    """The conversation a message belongs to: a thread, a channel, or a member's DMs."""
    if isinstance(channel, discord.Thread):
        return f"thread:{channel.id}"
    if isinstance(channel, discord.DMChannel | discord.GroupChannel) or channel is None:
        return f"dm:{user.id}"
    return f"channel:{channel.id}"


def guild_key(guild: discord.Guild | None) -> str:
    """The preference key of a server ('' for direct messages)."""
    return str(guild.id) if guild else ""


def is_group(channel: discord.abc.Messageable) -> bool:
    """Whether several members share conversations here (everything but DMs)."""
    return not isinstance(channel, discord.DMChannel)


def place_of(channel: object) -> Place | None:
    """A server channel or thread as the core's ``Place`` (None in DMs)."""
    if isinstance(channel, discord.Thread):
        return Place(str(channel.id), str(channel.parent_id))
    if isinstance(channel, discord.abc.GuildChannel):
        return Place(str(channel.id))
    return None
