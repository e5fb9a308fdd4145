"""Omnicord loaded into a host bot with cogs and slash commands of its own: cogs whose names
were once Omnicord's, and a host's own ``/omni`` or ``/omni-admin`` that Omnicord never touches."""

from __future__ import annotations

from pathlib import Path

import discord
import pytest
from discord import app_commands
from discord.ext import commands
from omnicord.cogs import EXTENSIONS
from omnicord.cogs.delivery.streaming import CLEANUP_TASK_PREFIX
from omnicord.cogs.runner import intents
from omnicord.cogs.runtime.omni_group import CommandNameTaken

from tests.doubles.fake_dashscope import FakeDashScope
from tests.doubles.fake_discord import DiscordHarness
from tests.doubles.omnicord_bot import make_settings

#: The host's cogs, named as Omnicord's own once were.
HOST_COGS = ("Settings", "Chat", "Usage", "Privacy", "Captions", "Talk")
NO_PINGS = discord.AllowedMentions.none()


def host_cog(cog_name: str) -> commands.Cog:
    """A host cog with a prefix command, a slash command and a message listener."""
    word = cog_name.lower()

    class HostCog(commands.Cog, name=cog_name):
        def __init__(self) -> None:
            self.seen: list[str] = []

        @commands.Cog.listener()
        async def on_message(self, message: discord.Message) -> None:
            self.seen.append(message.content)

        @commands.command(name=f"host-{word}")
        async def prefixed(self, ctx: commands.Context[commands.Bot]) -> None:
            await ctx.send(f"host {word} works", allowed_mentions=NO_PINGS)

        @app_commands.command(name=f"host-{word}", description="The host's own command")
        async def slash(self, interaction: discord.Interaction) -> None:
            await interaction.response.send_message(f"host {word} slash", ephemeral=True)

    return HostCog()


def host_bot(dashscope: FakeDashScope, folder: Path) -> commands.Bot:
    bot = commands.Bot(command_prefix="!", intents=intents(),
                       allowed_mentions=NO_PINGS, help_command=None)
    bot.omnicord_settings = make_settings(dashscope, folder)  # type: ignore[attr-defined]
    return bot


def answer(h: DiscordHarness, interaction: dict) -> str:
    (response,) = h.fake.interaction_responses(interaction["token"])
    return response.content or ""


def tree_names(bot: commands.Bot) -> set[tuple[str, int]]:
    """Every top-level command and menu on the tree, by name and type (a group is a slash
    command)."""
    chat_input = discord.AppCommandType.chat_input
    return {(c.name, getattr(c, "type", chat_input).value)
            for c in bot.tree.get_commands(type=None)}


async def test_host_cogs_named_like_omnicords_stay_and_keep_working(
        dashscope: FakeDashScope, tmp_path: Path) -> None:
    bot = host_bot(dashscope, tmp_path)
    async with DiscordHarness(bot) as h:
        h.ignored_task_prefixes.append(CLEANUP_TASK_PREFIX)
        for name in HOST_COGS:
            await bot.add_cog(host_cog(name))
        host_tree, host_listeners = tree_names(bot), list(bot.extra_events["on_message"])
        for extension in EXTENSIONS:
            await bot.load_extension(extension)
        assert set(bot.cogs) == {*HOST_COGS, "OmnicordChat", "OmnicordCaptions",
                                 "OmnicordSettings", "OmnicordUsage", "OmnicordPrivacy",
                                 "OmnicordTalk"}
        guild = h.add_guild("Host", channels=("general",))
        channel = guild.text_channels[0]
        admin = h.add_member(guild, "ada", manage_guild=True)
        h.message_create(channel, admin, "hello from a host", mention_bot=True)
        h.message_create(channel, admin, "!host-settings")
        await h.settle(timeout=20)
        texts = [m.get("content") or "" for m in h.fake.channel_messages(channel.id)]
        assert any(t.startswith("Echo: ") and "hello from a host" in t for t in texts)
        assert "host settings works" in texts
        status = h.slash(channel, admin, "omni status")
        opened = h.slash(channel, admin, "omni-admin chat-channel", {"enabled": True})
        hosts = h.slash(channel, admin, "host-chat")
        await h.settle()
        assert "**Model:**" in answer(h, status)  # Omnicord finds its own settings cog
        assert "Chat **on**" in answer(h, opened)
        assert answer(h, hosts) == "host chat slash"

        for extension in EXTENSIONS:
            await bot.unload_extension(extension)
        assert set(bot.cogs) == set(HOST_COGS)
        assert tree_names(bot) == host_tree
        assert bot.extra_events["on_message"] == host_listeners
        assert {f"host-{n.lower()}" for n in HOST_COGS} <= set(bot.all_commands)
        h.message_create(channel, admin, "!host-usage")
        await h.settle()
        assert h.fake.channel_messages(channel.id)[-1]["content"] == "host usage works"
        assert all("!host-usage" in bot.get_cog(n).seen for n in HOST_COGS)


@pytest.mark.parametrize("taken", ["omni", "omni-admin"])
async def test_a_hosts_own_group_is_never_merged_into_replaced_or_removed(
        dashscope: FakeDashScope, tmp_path: Path, taken: str) -> None:
    bot = host_bot(dashscope, tmp_path)
    group = app_commands.Group(name=taken, description="The host's own")

    @group.command(name="status", description="The host's status")
    async def host_status(interaction: discord.Interaction) -> None:
        await interaction.response.send_message("host status", ephemeral=True)

    bot.tree.add_command(group)
    async with DiscordHarness(bot) as h:
        for extension in EXTENSIONS:
            with pytest.raises(commands.ExtensionFailed) as failed:
                await bot.load_extension(extension)
            assert isinstance(failed.value.original, CommandNameTaken)
            assert f"already has its own /{taken} command" in str(failed.value)
        assert tree_names(bot) == {(taken, 1)}  # nothing of Omnicord's half-added
        assert bot.tree.get_command(taken) is group
        assert [c.name for c in group.commands] == ["status"]
        assert not bot.cogs and not bot.extensions and not bot.extra_events.get("on_message")
        assert not hasattr(bot, "_omnicord_runtime")  # nothing opened either
        guild = h.add_guild("Host", channels=("general",))
        member = h.add_member(guild, "bo")
        asked = h.slash(guild.text_channels[0], member, f"{taken} status")
        await h.settle()
        assert answer(h, asked) == "host status"
