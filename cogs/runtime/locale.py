"""Which language Omnicord's own words take: a member's Discord language for what only they
see (interaction replies), the server's for what the channel sees (refusals, notices,
captions' headers)."""

from __future__ import annotations

import discord
from omnicord.i18n import DEFAULT_LANGUAGE, language_of
from omnicord.store.interface import PreferenceStore


def member_language(interaction: discord.Interaction) -> str:
    """The catalogue language of the member's Discord client (their ``locale``)."""
    return language_of(interaction.locale)


async def place_language(preferences: PreferenceStore, guild: discord.Guild | None) -> str:
    """The language of a server's channels: the one an admin chose (``/omni-admin
    language``), else the server's preferred locale in Discord; English in DMs."""
    if guild is None:
        return DEFAULT_LANGUAGE
    chosen = (await preferences.guild(str(guild.id))).language
    return language_of(chosen or guild.preferred_locale)
