"""The shared ``/omni`` slash-command group that every Omnicord cog adds its commands to.

Discord allows one top-level ``/omni`` command; each cog adds its subcommands on load and
removes them on unload, and the group leaves the tree with the last of them.
"""

from __future__ import annotations

import discord
from discord import app_commands
from discord.ext import commands
from omnicord.cogs.utils.errors import friendly

GROUP_NAME = "omni"


class OmniGroup(app_commands.Group):
    """``/omni``: any failure in a subcommand becomes a short private explanation."""

    async def on_error(
        self, interaction: discord.Interaction, error: app_commands.AppCommandError
    ) -> None:
        cause = error.original if isinstance(error, app_commands.CommandInvokeError) else error
        text = f"⚠️ {friendly(cause)}"
        if isinstance(error, app_commands.CheckFailure):
            text = f"⚠️ {error}"
        if interaction.response.is_done():
            await interaction.followup.send(text, ephemeral=True,
                                            allowed_mentions=discord.AllowedMentions.none())
        else:
            await interaction.response.send_message(
                text, ephemeral=True, allowed_mentions=discord.AllowedMentions.none())


def omni_group(bot: commands.Bot) -> app_commands.Group:
    """The bot's ``/omni`` group, created and added to its tree on first use."""
    existing = bot.tree.get_command(GROUP_NAME)
    if isinstance(existing, app_commands.Group):
        return existing
    group = OmniGroup(name=GROUP_NAME, description="Omnicord: Qwen-Omni in Discord")
    bot.tree.add_command(group)
    return group


def add_commands(
    bot: commands.Bot, *items: app_commands.Command | app_commands.Group
) -> None:
    """Add subcommands (or subgroups) to ``/omni``."""
    group = omni_group(bot)
    for item in items:
        group.add_command(item, override=True)


def remove_commands(
    bot: commands.Bot, *items: app_commands.Command | app_commands.Group
) -> None:
    """Remove subcommands; drop ``/omni`` itself once empty."""
    group = bot.tree.get_command(GROUP_NAME)
    if not isinstance(group, app_commands.Group):
        return
    for item in items:
        group.remove_command(item.name)
    if not group.commands:
        bot.tree.remove_command(GROUP_NAME)
