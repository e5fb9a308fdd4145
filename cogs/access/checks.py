"""The access check every request passes before any download or model call: the bot's DM
policy and the server's allow lists of roles and channels (``omnicord.policy.access``)."""

from __future__ import annotations

import discord
from omnicord.cogs.access.places import guild_key
from omnicord.cogs.delivery.friendly import friendly
from omnicord.cogs.delivery.streaming import NO_PINGS
from omnicord.cogs.runtime.locale import member_language
from omnicord.cogs.runtime.shared import Runtime
from omnicord.i18n import text
from omnicord.policy.access import AccessRefused
from omnicord.policy.preferences import SettingRefused


def role_ids(user: discord.abc.User) -> list[str]:
    """The member's role ids, @everyone included (none for a user outside a server)."""
    return [str(role.id) for role in getattr(user, "roles", ())]


def place_ids(channel: object) -> list[str]:
    """The ids an allow list may name for a place: the channel, a thread's parent channel and
    the category either sits in."""
    ids = [getattr(channel, "id", None), getattr(channel, "parent_id", None),
           getattr(channel, "category_id", None)]
    parent = getattr(channel, "parent", None)
    if isinstance(channel, discord.Thread) and parent is not None:
        ids.append(getattr(parent, "category_id", None))
    return [str(i) for i in ids if i is not None]


async def check_access(runtime: Runtime, guild: discord.Guild | None, user: discord.abc.User,
                       channel: object) -> None:
    """AccessRefused (a polite line) unless ``user`` may use Omnicord in ``channel``."""
    await runtime.services.access.check(guild_key(guild), role_ids=role_ids(user),
                                        channel_ids=place_ids(channel))


async def interaction_refused(runtime: Runtime, interaction: discord.Interaction) -> bool:
    """Whether the member may not use Omnicord where they used a command; if so, they have
    been told so privately (the interaction is answered)."""
    try:
        await check_access(runtime, interaction.guild, interaction.user, interaction.channel)
    except AccessRefused as refusal:
        shown = friendly(refusal, language=member_language(interaction))
        await interaction.response.send_message(f"⚠️ {shown}", ephemeral=True,
                                                allowed_mentions=NO_PINGS)
        return True
    return False


def require_manage_guild(interaction: discord.Interaction) -> str:
    """The server's key, if the member may change its settings; SettingRefused otherwise
    (Discord's command permissions can be changed by an admin: this checks again)."""
    if interaction.guild is None:
        raise SettingRefused(text("errors_access.server_only"))
    if not interaction.permissions.manage_guild:
        raise SettingRefused(text("errors_access.needs_manage_guild"))
    return guild_key(interaction.guild)
