"""Autocomplete for the language a transcript is translated into."""

from __future__ import annotations

import discord
from discord import app_commands
from omnicord.policy.languages import NO_TRANSLATION, language_choices

MAX_CHOICES = 25


async def language_autocomplete(
    _: discord.Interaction, current: str
) -> list[app_commands.Choice[str]]:
    """Common languages matching what was typed, and the choice of no translation."""
    choices = [app_commands.Choice(name=name, value=name) for name in language_choices(current)]
    if current.strip().lower() in NO_TRANSLATION:
        choices.insert(0, app_commands.Choice(name="none (no translation)", value=NO_TRANSLATION))
    return choices[:MAX_CHOICES]


async def member_language_autocomplete(
    interaction: discord.Interaction, current: str
) -> list[app_commands.Choice[str]]:
    """As ``language_autocomplete``, with the choice of following the server."""
    choices = await language_autocomplete(interaction, current)
    if current.strip().lower() in "server default":
        choices.insert(0, app_commands.Choice(name="server default", value="default"))
    return choices[:MAX_CHOICES]
