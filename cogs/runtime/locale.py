"""Which language Omnicord's own words take: a member's Discord language for what only they
see (interaction replies) and in direct messages with them, the server's for what a channel
sees (refusals, notices, captions' headers).

Discord gives a direct message no language, so each Omnicord command a member runs keeps their
Discord app's language on their direct-message preferences (``remember_language``), and
Omnicord's words in DMs with them use it; English until they have run one.
"""

from __future__ import annotations

import asyncio
import logging

import discord
from omnicord.i18n import DEFAULT_LANGUAGE, language_of
from omnicord.store.interface import PreferenceStore

log = logging.getLogger(__name__)


def member_language(interaction: discord.Interaction) -> str:
    """The catalogue language of the member's Discord client (their ``locale``)."""
    return language_of(interaction.locale)


async def place_language(preferences: PreferenceStore, guild: discord.Guild | None,
                         member_id: int | None = None) -> str:
    """The language of a server's channels: the one an admin chose (``/omni-admin
    language``), else the server's preferred locale in Discord. In a DM, the member's
    remembered Discord language (English if none)."""
    if guild is None:
        if member_id is None:
            return DEFAULT_LANGUAGE
        remembered = (await preferences.member("", str(member_id))).language
        return language_of(remembered) if remembered else DEFAULT_LANGUAGE
    chosen = (await preferences.guild(str(guild.id))).language
    return language_of(chosen or guild.preferred_locale)


#: At most this long before the command goes on without it (Discord wants an answer within 3 s,
#: and a store retrying a lost connection could take longer).
REMEMBER_TIMEOUT = 0.5


async def remember_language(preferences: PreferenceStore,
                            interaction: discord.Interaction) -> None:
    """Keep the member's Discord language for Omnicord's words in DMs with them. A store that
    fails, or takes over ``REMEMBER_TIMEOUT``, is logged: the command itself goes on."""
    try:
        async with asyncio.timeout(REMEMBER_TIMEOUT):
            await preferences.remember_language(str(interaction.user.id),
                                                member_language(interaction))
    except Exception as error:  # the command matters more than the DM language
        log.warning("could not keep a member's Discord language: %s", type(error).__name__)
