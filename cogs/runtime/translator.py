"""Omnicord's slash commands in the member's Discord language.

An ``app_commands.Translator`` that gives Omnicord's own command texts (command and group
descriptions, parameter descriptions, choice names, context-menu names) their translations
from the catalogue's ``COMMANDS`` (keyed by the English text), for the Discord locales of
``omnicord.i18n.LANGUAGES`` (``es-419`` gets the Spanish of Spain, as everywhere in Omnicord;
English and every other locale get none, so Discord shows the English). Command and option
NAMES are never localised: members type them, and the docs, help and other members' messages
name them one way.

A host bot's commands are never Omnicord's, even where their English text is the same: they
go to the translator the host had set before Omnicord loaded, if any, and that translator is
restored when the last Omnicord cog unloads.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

import discord
from discord import app_commands
from discord.app_commands import TranslationContextLocation as Where
from omnicord.cogs.discord_internals import guilds_with_commands
from omnicord.cogs.runtime.omni_group import OmniGroup
from omnicord.i18n import DEFAULT_LANGUAGE, language_of
from omnicord.i18n.catalogue import COMMANDS

Tree = app_commands.CommandTree[Any]
Context = app_commands.TranslationContextTypes

#: Where a name is asked for: slash command, group and option names stay English.
_NAMES = (Where.command_name, Where.group_name, Where.parameter_name)


def localise(english: str, locale: discord.Locale) -> str | None:
    """The catalogue's translation of one of Omnicord's command texts for a Discord locale;
    None for English, for a locale Omnicord does not speak, and for a text not in the
    catalogue (Discord then shows the English)."""
    language = language_of(locale)
    if language == DEFAULT_LANGUAGE:
        return None
    entry = COMMANDS.get(english)
    return entry.get(language) if entry is not None else None


class OmnicordTranslator(app_commands.Translator):
    """Translates Omnicord's commands of ``tree``; anything else goes to ``inner`` (the host
    bot's own translator, or None)."""

    def __init__(self, tree: Tree, inner: app_commands.Translator | None = None) -> None:
        self.tree = tree
        self.inner = inner

    # set_translator unloads the translator it replaces and loads the new one: loading and
    # unloading the host's with ours keeps it loaded for as long as it is in use.
    async def load(self) -> None:
        if self.inner is not None:
            await self.inner.load()

    async def unload(self) -> None:
        if self.inner is not None:
            await self.inner.unload()

    async def translate(self, string: app_commands.locale_str, locale: discord.Locale,
                        context: Context) -> str | None:
        if self.is_omnicords(context):
            if context.location in _NAMES and not isinstance(context.data,
                                                             app_commands.ContextMenu):
                return None
            return localise(string.message, locale)
        if self.inner is None:
            return None
        return await self.inner.translate(string, locale, context)

    def is_omnicords(self, context: Context) -> bool:
        """Whether the text being translated belongs to one of Omnicord's commands."""
        data = context.data
        if context.location == Where.choice_name:
            return any(choice is data for choice in own_choices(self.tree))
        if isinstance(data, app_commands.Parameter):
            data = data.command
        return is_own(data)


def is_own(item: object) -> bool:
    """Whether a command, group or context menu is Omnicord's: under ``/omni`` or
    ``/omni-admin``, or a context menu of an Omnicord module."""
    if isinstance(item, app_commands.ContextMenu):
        return (item.module or "").startswith("omnicord.")
    if isinstance(item, app_commands.Command | app_commands.Group):
        return isinstance(item.root_parent or item, OmniGroup)
    return False


def own_choices(tree: Tree) -> Iterator[app_commands.Choice[Any]]:
    """The choices of Omnicord's commands on the tree (global and per guild): the very
    objects discord.py hands the translator, so a host's choice of the same name is not
    among them."""
    scopes: list[discord.abc.Snowflake | None] = [None]
    scopes.extend(discord.Object(guild) for guild in sorted(guilds_with_commands(tree)))
    for scope in scopes:
        for root in tree.get_commands(guild=scope, type=discord.AppCommandType.chat_input):
            if not isinstance(root, OmniGroup):
                continue
            for command in root.walk_commands():
                if isinstance(command, app_commands.Command):
                    for parameter in command.parameters:
                        yield from parameter.choices


async def install(tree: Tree, stack: contextlib.AsyncExitStack) -> OmnicordTranslator:
    """Set Omnicord's translator on the tree, chained to the one already there; ``stack``
    puts the previous one back when it closes."""
    translator = OmnicordTranslator(tree, tree.translator)
    await tree.set_translator(translator)
    stack.push_async_callback(uninstall, tree, translator)
    return translator


async def uninstall(tree: Tree, translator: OmnicordTranslator) -> None:
    """Give the tree back the translator it had before Omnicord's; left alone if the host
    has set another since."""
    if tree.translator is translator:
        await tree.set_translator(translator.inner)
