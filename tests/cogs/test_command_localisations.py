"""Omnicord's slash commands in every language it speaks: every description, choice and
context-menu name of its full tree localised for ja, zh-CN, zh-TW, ko, es-ES and pt-BR (names
stay English), synced to the fake Discord (which checks the localisations' shapes) once; and a
host bot's commands, and its own translator, left alone."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import discord
import pytest
from discord import app_commands
from omnicord.cogs import EXTENSIONS
from omnicord.cogs.runtime.sync import guild_ids, payloads, tree_hash
from omnicord.cogs.runtime.translator import OmnicordTranslator
from omnicord.i18n import LANGUAGES, language_name
from omnicord.i18n.catalogue import COMMANDS
from omnicord.i18n.catalogue import commands as commands_area
from omnicord.store import open_store

from tests.cogs.test_host_bot import host_bot
from tests.cogs.test_sync import puts, started, stored_hash
from tests.doubles.fake_dashscope import FakeDashScope
from tests.doubles.fake_discord import DiscordHarness, FakeDiscord
from tests.doubles.fake_discord.rules import DiscordError, validate_commands
from tests.doubles.omnicord_bot import World, make_settings
from tests.doubles.omnicord_bot import world as world

#: The Discord locales Omnicord translates into (es-419 shares Spain's Spanish).
LOCALES = ("ja", "zh-CN", "zh-TW", "ko", "es-ES", "pt-BR")
#: What discord.py sends for an option declared without a description: nothing to translate.
NO_DESCRIPTION = "…"
#: A language choice is the language's own name, the same for everyone.
AUTONYMS = {language_name(code, native=True) for code in LANGUAGES}


def localised(item: dict[str, Any], field: str, limit: int) -> list[str]:
    """What is wrong with an item's ``{field}_localizations``: a missing locale, one beyond
    ``limit`` characters, or an English one."""
    found = item.get(f"{field}_localizations") or {}
    english = item[field]
    wrong = [f"{english!r} has no {locale}" for locale in LOCALES if not found.get(locale)]
    wrong += [f"{english!r} in {locale} is {len(text)} long" for locale, text in found.items()
              if not 1 <= len(text) <= limit]
    wrong += [f"{english!r} has {locale}" for locale in ("en-US", "en-GB") if locale in found]
    if found.get("es-419") != found.get("es-ES"):
        wrong.append(f"{english!r}: es-419 is not es-ES")
    return wrong


def problems(option: dict[str, Any]) -> list[str]:
    """Every untranslated or invalid text of a slash command or option, recursively."""
    wrong: list[str] = []
    if option.get("name_localizations"):  # names are typed: they stay English
        wrong.append(f"name {option['name']!r} is localised")
    if option["description"] == NO_DESCRIPTION:  # discord.py's stand-in: Discord shows "…"
        wrong.append(f"option {option['name']!r} has no description")
    else:
        wrong += localised(option, "description", 100)
    for choice in option.get("choices") or []:
        if choice["name"] not in AUTONYMS:
            wrong += localised(choice, "name", 100)
    for child in option.get("options") or []:
        wrong += problems(child)
    return wrong


def english_texts(option: dict[str, Any]) -> set[str]:
    """The English descriptions and choice names of a slash command or option, recursively."""
    found = {option["description"], *(c["name"] for c in option.get("choices") or [])}
    for child in option.get("options") or []:
        found |= english_texts(child)
    return found


async def every_payload(tree: app_commands.CommandTree[Any]) -> list[dict[str, Any]]:
    """The translated payloads of the whole tree, global and per guild."""
    found = await payloads(tree)
    for guild in guild_ids(tree):
        found += await payloads(tree, guild)
    return found


async def test_every_text_of_every_omnicord_command_is_translated(world: World) -> None:
    tree = world.bot.tree
    assert isinstance(tree.translator, OmnicordTranslator)
    synced = await every_payload(tree)
    menus = [p for p in synced if p.get("type") in (2, 3)]
    slash = [p for p in synced if p.get("type") in (None, 1)]
    assert {p["name"] for p in menus} == {"Caption audio", "Transcribe audio"}
    assert {p["name"] for p in slash} == {"omni", "omni-admin"}
    wrong = [w for menu in menus for w in localised(menu, "name", 32)]
    wrong += [w for command in slash for w in problems(command)]
    assert wrong == []  # a new text without a translation is listed here
    omni = next(p for p in slash if p["name"] == "omni")
    english = "Omnicord: Qwen-Omni in Discord"
    assert omni["description"] == english
    assert omni["description_localizations"]["ja"] == COMMANDS[english].ja
    assert "fr" not in omni["description_localizations"]  # Omnicord doesn't speak it
    used = {p["name"] for p in menus}.union(*(english_texts(p) for p in slash))
    assert set(commands_area.COMMANDS) <= used  # no translation of a text no longer used


async def test_the_sync_carries_the_localisations_once(dashscope: FakeDashScope,
                                                      tmp_path: Path) -> None:
    settings = make_settings(dashscope, tmp_path)
    with FakeDiscord() as fake:
        async with started(fake, settings) as bot:
            tree = bot.tree
            translated = await tree_hash(tree, fake.application_id)
            translator = tree.translator
            await tree.set_translator(None)
            untranslated = await tree_hash(tree, fake.application_id)
            await tree.set_translator(translator)
        assert translated != untranslated  # the translations are part of what is synced
        assert await stored_hash(settings, fake.application_id) == translated
        (put,) = puts(fake)
        assert put.status == 200  # every localisation valid under Discord's rules
        synced = {command["name"]: command for command in put.json}
        assert synced["omni"]["description_localizations"]["zh-CN"] == \
            COMMANDS["Omnicord: Qwen-Omni in Discord"].zh_CN
        assert synced["Transcribe audio"]["name_localizations"]["ko"] == \
            COMMANDS["Transcribe audio"].ko
        async with started(fake, settings):
            assert len(puts(fake)) == 1  # same tree, same translations: not synced again

        # A database synced before the translations existed: synced once more, then not.
        async with open_store(settings.database) as store:
            await store.set_command_tree_hash(str(fake.application_id), untranslated)
        for _ in range(2):
            async with started(fake, settings):
                pass
        assert [put.status for put in puts(fake)] == [200, 200]
        assert await stored_hash(settings, fake.application_id) == translated


LOCALISED = {"name": "omni", "description": "ok", "description_localizations": {"ja": "はい"},
             "options": [{"name": "mode", "description": "ok", "type": 3, "choices": [
                 {"name": "text", "value": "text", "name_localizations": {"ko": "텍스트"}}]}]}


@pytest.mark.parametrize("command", [
    {**LOCALISED, "description_localizations": {"jp": "はい"}},  # no Discord locale
    {**LOCALISED, "description_localizations": {"en": "yes"}},
    {**LOCALISED, "description_localizations": {"ja": ""}},
    {**LOCALISED, "description_localizations": {"ja": "x" * 101}},
    {**LOCALISED, "name_localizations": {"ja": "オムニ 管理"}},  # a space in a slash name
    {**LOCALISED, "name_localizations": {"es-ES": "Omni"}},  # not lower case
    {**LOCALISED, "options": [{**LOCALISED["options"][0], "choices": [
        {"name": "text", "value": "text", "name_localizations": {"ko": "x" * 101}}]}]},
    {**LOCALISED, "options": [{**LOCALISED["options"][0], "choices": [
        {"name": "x" * 101, "value": "text"}]}]},
    {"name": "Transcribe audio", "type": 3, "name_localizations": {"ja": "x" * 33}},
    {"name": "Transcribe audio", "type": 3, "description_localizations": {"ja": "説明"}},
    {"name": "omni", "description": "x" * 100, "description_localizations": {"es-ES": "y" * 100},
     "options": [{"name": f"o{n}", "description": "x", "type": 1, "description_localizations": {
         "ja": "x" * 100}, "options": [{"name": f"p{m}", "description": "x", "type": 3,
                                         "description_localizations": {"ko": "x" * 100}}
                                        for m in range(2)]} for n in range(13)]},  # > 4,000
])
def test_the_fake_refuses_what_discord_refuses_in_localisations(command: dict) -> None:
    validate_commands([LOCALISED, {"name": "Transcribe audio", "type": 3,
                                   "name_localizations": {"ja": "x" * 32}}])  # valid
    with pytest.raises(DiscordError) as refused:
        validate_commands([command])
    assert refused.value.body["code"] == 50035


#: The host translator's words: its own texts, and one of Omnicord's.
FRENCH = {"The host's own command": "La commande de l'hôte",
          "Forget the conversation here": "Oublie la conversation ici",
          "a host option": "une option de l'hôte", "text": "texte"}


class HostTranslator(app_commands.Translator):
    """A host bot's own translator: French for the host's texts (and for one of Omnicord's,
    which it must never be asked about)."""

    def __init__(self) -> None:
        self.loaded = False
        self.asked: list[str] = []

    async def load(self) -> None:
        self.loaded = True

    async def unload(self) -> None:
        self.loaded = False

    async def translate(self, string: app_commands.locale_str, locale: discord.Locale,
                        context: app_commands.TranslationContextTypes) -> str | None:
        self.asked.append(string.message)
        return FRENCH.get(string.message) if locale is discord.Locale.french else None


async def forget_here(interaction: discord.Interaction, mode: str) -> None:
    """A host command worded like Omnicord's ``/omni reset``."""
    await interaction.response.send_message(mode, ephemeral=True)


async def host_menu(interaction: discord.Interaction, user: discord.User) -> None:
    await interaction.response.send_message("host menu", ephemeral=True)


def host_commands(bot: Any) -> None:
    """A host slash command, option and choice in Omnicord's own English words, one of the
    host's own words, and a user menu named like Omnicord's message menu."""
    command = app_commands.Command(name="host-forget", description="Forget the conversation here",
                                   callback=app_commands.describe(mode="a host option")(
                                       app_commands.choices(mode=[
                                           app_commands.Choice(name="text", value="text")])(
                                           forget_here)))
    bot.tree.add_command(command)
    bot.tree.add_command(app_commands.Command(name="host-own",
                                              description="The host's own command",
                                              callback=forget_here))
    bot.tree.add_command(app_commands.ContextMenu(name="Transcribe audio", callback=host_menu))


def by_name(found: list[dict[str, Any]], name: str, kind: int = 1) -> dict[str, Any]:
    return next(p for p in found if p["name"] == name and int(p.get("type") or 1) == kind)


async def test_a_host_bots_commands_get_no_omnicord_translation(
        dashscope: FakeDashScope, tmp_path: Path) -> None:
    bot = host_bot(dashscope, tmp_path)
    host_commands(bot)
    async with DiscordHarness(bot):
        for extension in EXTENSIONS:
            await bot.load_extension(extension)
        found = await payloads(bot.tree)
        host = by_name(found, "host-forget")
        assert host["description"] == "Forget the conversation here"
        assert host["description_localizations"] == {}  # Omnicord's words, but not its command
        (option,) = host["options"]
        assert "description_localizations" not in option
        assert "name_localizations" not in option["choices"][0]
        assert by_name(found, "Transcribe audio", kind=2)["name_localizations"] == {}
        ours = by_name(found, "Transcribe audio", kind=3)["name_localizations"]
        assert ours["ja"] == COMMANDS["Transcribe audio"].ja
        reset = next(o for o in by_name(found, "omni")["options"] if o["name"] == "reset")
        assert reset["description_localizations"]["ja"] == \
            COMMANDS["Forget the conversation here"].ja


async def test_a_hosts_translator_keeps_its_commands_and_comes_back(
        dashscope: FakeDashScope, tmp_path: Path) -> None:
    bot = host_bot(dashscope, tmp_path)
    host_commands(bot)
    own = HostTranslator()
    async with DiscordHarness(bot):
        await bot.tree.set_translator(own)
        for extension in EXTENSIONS:
            await bot.load_extension(extension)
        assert isinstance(bot.tree.translator, OmnicordTranslator) and own.loaded
        found = await payloads(bot.tree)
        host = by_name(found, "host-forget")
        assert host["description_localizations"] == {"fr": "Oublie la conversation ici"}
        assert host["options"][0]["description_localizations"] == {"fr": "une option de l'hôte"}
        assert host["options"][0]["choices"][0]["name_localizations"] == {"fr": "texte"}
        assert by_name(found, "host-own")["description_localizations"] == {
            "fr": "La commande de l'hôte"}
        omni = by_name(found, "omni")
        reset = next(o for o in omni["options"] if o["name"] == "reset")
        assert "fr" not in reset["description_localizations"]  # never the host's words
        assert "Omnicord: Qwen-Omni in Discord" not in own.asked  # never asked about ours

        for extension in EXTENSIONS:
            await bot.unload_extension(extension)
        assert bot.tree.translator is own and own.loaded
        found = await payloads(bot.tree)
        assert by_name(found, "host-own")["description_localizations"] == {
            "fr": "La commande de l'hôte"}
