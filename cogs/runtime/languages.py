"""Autocomplete for the language a transcript is translated into."""

from __future__ import annotations

import discord
from discord import app_commands
from omnicord.cogs.runtime.locale import member_language
from omnicord.i18n import t
from omnicord.policy.languages import NO_TRANSLATION, language_choices

MAX_CHOICES = 25


async def language_autocomplete(
    interaction: discord.Interaction, current: str
) -> list[app_commands.Choice[str]]:
    """Common languages matching what was typed (in English or in their own name, and named
    both ways), and the choice of no translation (named in the member's language)."""
    choices = [app_commands.Choice(name=label, value=value)
               for label, value in language_choices(current)]
    label = t(member_language(interaction), "common.no_translation")
    if _offered(current, NO_TRANSLATION, label):
        choices.insert(0, app_commands.Choice(name=label, value=NO_TRANSLATION))
    return choices[:MAX_CHOICES]


async def member_language_autocomplete(
    interaction: discord.Interaction, current: str
) -> list[app_commands.Choice[str]]:
    """As ``language_autocomplete``, with the choice of following the server."""
    choices = await language_autocomplete(interaction, current)
    label = t(member_language(interaction), "common.server_default")
    if _offered(current, "server default", label):
        choices.insert(0, app_commands.Choice(name=label, value="default"))
    return choices[:MAX_CHOICES]


def _offered(typed: str, *names: str) -> bool:
    """Whether what was typed is the start of (or within) one of a choice's names."""
    wanted = typed.strip().lower()
    return any(wanted in name.lower() for name in names)
