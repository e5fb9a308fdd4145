"""Omnicord's two top-level slash commands, which every Omnicord cog adds its subcommands to.

``/omni`` holds what every member may use; ``/omni-admin`` holds the server-wide settings and
is declared for Manage Server only and never in DMs, so Discord hides it from members and an
admin can grant it to a role in Server Settings → Integrations (Discord applies
``default_member_permissions`` to top-level commands only). Each cog adds its subcommands on
load and removes them on unload; a group leaves the tree with the last of them.

Omnicord never merges into, replaces or deletes a command it does not own: when the bot
already has a top-level ``/omni`` or ``/omni-admin`` of its own, loading an Omnicord cog fails
before anything is added (``CommandNameTaken``).
"""

from __future__ import annotations

from typing import Any

import discord
from discord import app_commands
from discord.ext import commands
from omnicord.cogs.delivery.friendly import friendly
from omnicord.cogs.delivery.private import answer_privately
from omnicord.cogs.discord_internals import guilds_with_commands
from omnicord.cogs.runtime.locale import member_language, remember_language

GROUP_NAME = "omni"
ADMIN_GROUP_NAME = "omni-admin"
GROUP_NAMES = (GROUP_NAME, ADMIN_GROUP_NAME)

AnyBot = commands.Bot | commands.AutoShardedBot
Item = app_commands.Command[Any, ..., Any] | app_commands.Group


class CommandNameTaken(discord.ClientException):
    """The bot already has a top-level command of Omnicord's names that is not Omnicord's."""


class OmniGroup(app_commands.Group):
    """An Omnicord group: any failure in a subcommand becomes a short private explanation, and
    every subcommand keeps the member's Discord language for DMs (``remember_language``)."""

    async def interaction_check(self, interaction: discord.Interaction) -> bool:
        # Imported here: the runtime module imports this one.
        from omnicord.cogs.runtime.shared import current

        runtime = current(interaction.client)  # type: ignore[arg-type]
        if runtime is not None:
            await remember_language(runtime.preferences, interaction)
        return True

    async def on_error(
        self, interaction: discord.Interaction, error: app_commands.AppCommandError
    ) -> None:
        cause = error.original if isinstance(error, app_commands.CommandInvokeError) else error
        text = f"⚠️ {friendly(cause, language=member_language(interaction))}"
        if isinstance(error, app_commands.CheckFailure):
            text = f"⚠️ {error}"
        await answer_privately(interaction, text)

    def to_dict(self, tree: app_commands.CommandTree[Any]) -> dict[str, Any]:
        payload = super().to_dict(tree)
        # Discord documents the permissions as a string (discord.py sends an int).
        if payload.get("default_member_permissions") is not None:
            payload["default_member_permissions"] = str(payload["default_member_permissions"])
        return payload


def new_group(name: str) -> OmniGroup:
    """A fresh ``/omni`` or ``/omni-admin`` group."""
    if name == ADMIN_GROUP_NAME:
        return OmniGroup(name=name, description="Omnicord server settings (Manage Server)",
                         default_permissions=discord.Permissions(manage_guild=True),
                         guild_only=True,
                         allowed_contexts=app_commands.AppCommandContext(guild=True))
    return OmniGroup(name=name, description="Omnicord: Qwen-Omni in Discord")


def check_names_free(bot: AnyBot) -> None:
    """Raise ``CommandNameTaken`` if the bot has a top-level ``/omni`` or ``/omni-admin``
    (global or for a guild) that is not Omnicord's; call before adding anything."""
    tree = bot.tree
    scopes: list[discord.abc.Snowflake | None] = [None]
    scopes.extend(discord.Object(guild) for guild in sorted(guilds_with_commands(tree)))
    for name in GROUP_NAMES:
        for guild in scopes:
            found = tree.get_command(name, guild=guild)
            if found is not None and not isinstance(found, OmniGroup):
                where = "" if guild is None else f" in guild {guild.id}"
                raise CommandNameTaken(
                    f"the bot already has its own /{name} command{where}, and Omnicord never "
                    f"merges into, replaces or removes a command it does not own: rename or "
                    f"remove the bot's /{name}, then load Omnicord")


def _group(bot: AnyBot, name: str) -> OmniGroup:
    """Omnicord's group called ``name``, created and added to the tree on first use."""
    existing = bot.tree.get_command(name)
    if isinstance(existing, OmniGroup):
        return existing
    check_names_free(bot)
    group = new_group(name)
    bot.tree.add_command(group)
    return group


def add_commands(bot: AnyBot, *items: Item, admin: bool = False) -> None:
    """Add subcommands (or subgroups) to ``/omni``, or to ``/omni-admin`` when ``admin``."""
    group = _group(bot, ADMIN_GROUP_NAME if admin else GROUP_NAME)
    for item in items:
        group.add_command(item, override=True)


def remove_commands(bot: AnyBot, *items: Item, admin: bool = False) -> None:
    """Remove these subcommands, and the group itself once empty; only Omnicord's own."""
    name = ADMIN_GROUP_NAME if admin else GROUP_NAME
    group = bot.tree.get_command(name)
    if not isinstance(group, OmniGroup):
        return
    for item in items:
        if group.get_command(item.name) is item:
            group.remove_command(item.name)
    if not group.commands:
        bot.tree.remove_command(name)


def remove_own(bot: AnyBot, item: app_commands.ContextMenu) -> None:
    """Remove a context menu from the tree if it is this very one (never a namesake)."""
    if bot.tree.get_command(item.name, type=item.type) is item:
        bot.tree.remove_command(item.name, type=item.type)
