"""Sanity checks of the fake Discord REST API and the gateway-free harness."""

from __future__ import annotations

import io

import aiohttp
import discord
import pytest
from discord import app_commands
from discord.ext import commands
from PIL import Image

from tests.doubles.fake_discord import (
    DiscordHarness,
    HarnessFactory,
    default_intents,
)
from tests.doubles.fake_discord import discord_harness as discord_harness
from tests.doubles.fake_discord import harness as harness


def png_bytes(width: int = 4, height: int = 3) -> bytes:
    """A tiny PNG."""
    buffer = io.BytesIO()
    Image.new("RGB", (width, height), "red").save(buffer, format="PNG")
    return buffer.getvalue()


class SyncingBot(commands.Bot):
    """A bot whose setup_hook syncs its command tree, as Omnicord's does."""

    def __init__(self) -> None:
        super().__init__(command_prefix=commands.when_mentioned, intents=default_intents(),
                         help_command=None)
        self.synced: list[app_commands.AppCommand] = []

    async def setup_hook(self) -> None:
        self.synced = await self.tree.sync()


def build_command_bot() -> SyncingBot:
    """A bot with a subcommand group, a permission check, autocomplete and a context menu."""
    bot = SyncingBot()
    omni = app_commands.Group(name="omni", description="Omnicord")
    config = app_commands.Group(name="config", description="Settings", parent=omni)

    @config.command(name="set", description="Change a setting")
    async def config_set(interaction: discord.Interaction, key: str, enabled: bool,
                         image: discord.Attachment | None = None) -> None:
        size = ""
        if image is not None:
            data = await image.read()
            size = f" {image.filename} {image.width}x{image.height} {len(data)}B"
        await interaction.response.send_message(f"{key}={enabled}{size}", ephemeral=True)

    @omni.command(name="admin", description="Admins only")
    @app_commands.checks.has_permissions(manage_guild=True)
    async def admin(interaction: discord.Interaction) -> None:
        await interaction.response.send_message("ok")

    @admin.error
    async def admin_error(interaction: discord.Interaction,
                          error: app_commands.AppCommandError) -> None:
        await interaction.response.send_message(f"denied: {type(error).__name__}")

    @omni.command(name="voice", description="Pick a voice")
    async def voice(interaction: discord.Interaction, name: str) -> None:
        await interaction.response.defer(thinking=True)
        await interaction.edit_original_response(content=f"voice {name}")
        await interaction.followup.send("second")

    @voice.autocomplete("name")
    async def voice_names(interaction: discord.Interaction,
                          current: str) -> list[app_commands.Choice[str]]:
        names = ["Cherry", "Chelsie", "Ethan"]
        return [app_commands.Choice(name=n, value=n) for n in names if n.startswith(current)]

    async def describe(interaction: discord.Interaction, message: discord.Message) -> None:
        await interaction.response.send_message(
            f"{message.author.id}: {message.content} ({len(message.attachments)} files)")

    bot.tree.add_command(omni)
    bot.tree.add_command(app_commands.ContextMenu(name="Describe", callback=describe))
    return bot


async def test_login_sets_user_application_and_runs_setup_hook(
        discord_harness: HarnessFactory) -> None:
    h = await discord_harness(build_command_bot())
    bot = h.bot
    assert isinstance(bot, SyncingBot)
    assert bot.user is not None and bot.user.id == int(h.fake.bot_user["id"])
    assert bot.application_id == h.fake.application_id
    assert bot.is_ready()
    assert [r.path for r in h.fake.requests[:2]] == ["/users/@me", "/oauth2/applications/@me"]
    [put] = h.fake.find("PUT", rf"/applications/{bot.application_id}/commands")
    assert {c["name"] for c in put.json} == {"omni", "Describe"}
    assert {c.name for c in bot.synced} == {"omni", "Describe"}
    assert all(c.id for c in bot.synced)
    assert put.headers["Authorization"] == "Bot fake-token"


async def test_guild_is_cached_with_roles_channels_and_permissions(harness: DiscordHarness) -> None:
    guild = harness.add_guild("Lab", channels=("general", "voice-notes"))
    assert harness.bot.get_guild(guild.id) is guild
    assert [c.name for c in guild.text_channels] == ["general", "voice-notes"]
    assert guild.me.id == harness.me.id
    general = guild.text_channels[0]
    assert general.permissions_for(guild.me).send_voice_messages
    admin = harness.add_member(guild, "root", manage_guild=True)
    plain = harness.add_member(guild, "bob")
    assert general.permissions_for(admin).manage_guild
    assert not general.permissions_for(plain).manage_guild


async def test_on_message_gets_attachments_and_resolved_reply(harness: DiscordHarness) -> None:
    received: list[discord.Message] = []
    downloads: list[bytes] = []

    async def on_message(message: discord.Message) -> None:
        received.append(message)
        if message.author.bot:
            return
        if message.attachments:
            downloads.append(await message.attachments[0].read())
        await message.reply("noted", mention_author=False)

    harness.bot.add_listener(on_message)
    guild = harness.add_guild()
    channel = guild.text_channels[0]
    alice = harness.add_member(guild, "alice")
    image = harness.attachment("cat.png", png_bytes(), channel=channel)
    first = harness.message_create(channel, alice, "look", attachments=[image], mention_bot=True)
    await harness.settle()

    assert harness.me in first.mentions and first.content.startswith(f"<@{harness.me.id}>")
    assert first.attachments[0].url.startswith("https://cdn.discordapp.com/attachments/")
    assert (first.attachments[0].width, first.attachments[0].height) == (4, 3)
    assert downloads == [png_bytes()]
    [reply_request] = harness.fake.sent_messages(channel.id)
    assert reply_request.json["message_reference"]["message_id"] == first.id
    bot_reply = next(m for m in received if m.author.id == harness.me.id)  # gateway echo
    assert bot_reply.reference is not None and bot_reply.reference.message_id == first.id

    second = harness.message_create(channel, alice, "and this?", reference=bot_reply)
    await harness.settle()
    assert second.type is discord.MessageType.reply
    assert isinstance(second.reference.resolved, discord.Message)
    assert second.reference.resolved.content == "noted"
    assert harness.me in second.mentions  # replies ping by default
    assert len(harness.fake.sent_messages(channel.id)) == 2


async def test_slash_subcommand_group_with_attachment_option(
        discord_harness: HarnessFactory) -> None:
    h = await discord_harness(build_command_bot())
    guild = h.add_guild()
    channel = guild.text_channels[0]
    alice = h.add_member(guild, "alice")
    image = h.attachment("cat.png", png_bytes(8, 2))
    interaction = h.slash(channel, alice, "omni config set",
                          {"key": "voice", "enabled": True, "image": image})
    await h.settle()
    option = interaction["data"]["options"][0]
    assert (option["type"], option["options"][0]["type"]) == (2, 1)
    [response] = h.fake.interaction_responses(interaction["token"])
    assert response.json["type"] == 4
    assert response.content == f"voice=True cat.png 8x2 {len(png_bytes(8, 2))}B"
    assert response.json["data"]["flags"] & 64


async def test_permission_check_uses_member_permissions(discord_harness: HarnessFactory) -> None:
    h = await discord_harness(build_command_bot())
    guild = h.add_guild()
    channel = guild.text_channels[0]
    admin = h.add_member(guild, "root", manage_guild=True)
    plain = h.add_member(guild, "bob")
    allowed = h.slash(channel, admin, "omni admin")
    denied = h.slash(channel, plain, "omni admin")
    await h.settle()
    assert h.fake.interaction_responses(allowed["token"])[0].content == "ok"
    assert (h.fake.interaction_responses(denied["token"])[0].content
            == "denied: MissingPermissions")


async def test_defer_edit_original_and_followup(discord_harness: HarnessFactory) -> None:
    h = await discord_harness(build_command_bot())
    guild = h.add_guild()
    channel = guild.text_channels[0]
    interaction = h.slash(channel, h.add_member(guild, "alice"), "omni voice", {"name": "Ethan"})
    await h.settle()
    token = interaction["token"]
    assert h.fake.interaction_responses(token)[0].json["type"] == 5
    [edit] = h.fake.find("PATCH", rf"/webhooks/\d+/{token}/messages/@original")
    assert edit.content == "voice Ethan"
    [followup] = h.fake.followups(token)
    assert followup.content == "second"
    contents = [m["content"] for m in h.fake.channel_messages(channel.id)]
    assert contents == ["voice Ethan", "second"]


async def test_message_context_menu(discord_harness: HarnessFactory) -> None:
    h = await discord_harness(build_command_bot())
    guild = h.add_guild()
    channel = guild.text_channels[0]
    alice = h.add_member(guild, "alice")
    target = h.message_create(channel, alice, "transcribe me",
                              attachments=[h.attachment("a.ogg", b"OggS", channel=channel)])
    interaction = h.message_command(channel, h.add_member(guild, "bob"), "Describe", target)
    await h.settle()
    assert interaction["data"]["type"] == 3
    [response] = h.fake.interaction_responses(interaction["token"])
    assert response.content == f"{alice.id}: transcribe me (1 files)"


async def test_autocomplete(discord_harness: HarnessFactory) -> None:
    h = await discord_harness(build_command_bot())
    guild = h.add_guild()
    interaction = h.autocomplete(guild.text_channels[0], h.add_member(guild, "alice"),
                                 "omni voice", {"name": "Che"}, focused="name")
    await h.settle()
    [response] = h.fake.interaction_responses(interaction["token"])
    assert response.json["type"] == 8
    assert [c["value"] for c in response.json["data"]["choices"]] == ["Cherry", "Chelsie"]


async def test_guild_command_and_dm_interaction(harness: DiscordHarness) -> None:
    guild = harness.add_guild()

    @app_commands.command(name="ping", description="Ping")
    async def ping(interaction: discord.Interaction) -> None:
        where = "dm" if interaction.guild is None else "guild"
        await interaction.response.send_message(f"pong {where}")

    harness.bot.tree.add_command(ping, guild=guild)
    harness.bot.tree.add_command(ping)
    in_guild = harness.slash(guild.text_channels[0], harness.add_member(guild, "alice"), "ping")
    alice = harness.user("carol")
    in_dm = harness.slash(harness.dm_channel(alice), alice, "ping")
    await harness.settle()
    assert in_guild["data"]["guild_id"] == str(guild.id)
    assert "guild_id" not in in_dm["data"]
    assert harness.fake.interaction_responses(in_guild["token"])[0].content == "pong guild"
    assert harness.fake.interaction_responses(in_dm["token"])[0].content == "pong dm"


async def test_threads_created_by_the_bot_are_cached(harness: DiscordHarness) -> None:
    guild = harness.add_guild()
    channel = guild.text_channels[0]
    alice = harness.add_member(guild, "alice")
    question = harness.message_create(channel, alice, "long question")
    thread = await question.create_thread(name="Answer")
    await harness.settle()
    assert thread.id == question.id
    assert guild.get_thread(thread.id) is not None
    follow = harness.message_create(guild.get_thread(thread.id), alice, "more")
    assert isinstance(follow.channel, discord.Thread)
    await follow.channel.send("reply in thread")
    assert len(harness.fake.sent_messages(thread.id)) == 1


async def test_faults_rate_limit_and_deleted_message(harness: DiscordHarness) -> None:
    first = harness.add_guild().text_channels[0]
    harness.fake.rate_limit_next(retry_after=0.01)
    sent = await first.send("after a 429")
    attempts = harness.fake.find("POST", rf"/channels/{first.id}/messages")
    assert [r.status for r in attempts] == [429, 200]

    harness.fake.delete_message(sent.id)
    with pytest.raises(discord.NotFound) as gone:
        await sent.edit(content="x")
    assert gone.value.code == 10008

    harness.fake.fail_next("POST", r"/channels/\d+/messages", status=403, code=50013,
                           message="Missing Permissions")
    with pytest.raises(discord.Forbidden):
        await first.send("no")


async def test_discord_rules_are_enforced(harness: DiscordHarness) -> None:
    channel = harness.add_guild().text_channels[0]
    with pytest.raises(discord.HTTPException) as empty:
        await channel.send(content="")
    assert empty.value.code == 50006
    with pytest.raises(discord.HTTPException) as long:
        await channel.send("x" * 2001)
    assert long.value.code == 50035
    ok = await channel.send("x" * 2000)
    edited = await ok.edit(content="short")
    assert edited.content == "short" and edited.edited_at is not None
    assert [m["content"] for m in harness.fake.channel_messages(channel.id)] == ["short"]


@pytest.mark.parametrize("command", [
    {"name": "Omni", "description": "uppercase"},
    {"name": "omni admin", "description": "a space"},
    {"name": "omni", "description": ""},
    {"name": "omni", "description": "x" * 101},
    {"name": "omni", "description": "ok", "options": [
        {"name": f"o{n}", "description": "ok", "type": 3} for n in range(26)]},
    {"name": "omni", "description": "ok", "options": [
        {"name": "Sub", "description": "ok", "type": 1}]},
    {"name": "omni", "description": "x" * 100, "options": [
        {"name": f"o{n}", "description": "x" * 100, "type": 1, "options": [
            {"name": f"p{m}", "description": "x" * 100, "type": 3} for m in range(2)]}
        for n in range(13)]},
    {"name": "Describe", "type": 3, "description": "menus have none"},
])
async def test_command_rules_are_enforced(harness: DiscordHarness, command: dict) -> None:
    http = harness.bot.http
    application = harness.fake.application_id
    with pytest.raises(discord.HTTPException) as refused:
        await http.bulk_upsert_global_commands(application, [command])
    assert refused.value.code == 50035
    twice = {"name": "omni-admin", "description": "ok"}
    with pytest.raises(discord.HTTPException):
        await http.bulk_upsert_global_commands(application, [twice, twice])
    synced = await http.bulk_upsert_global_commands(application, [
        twice, {"name": "Describe it", "type": 3, "description": ""}])
    assert [c["name"] for c in synced] == ["omni-admin", "Describe it"]


async def test_settle_waits_for_slow_listeners_and_errors_are_recorded(
        harness: DiscordHarness) -> None:
    async def on_message(message: discord.Message) -> None:
        if message.author.bot:
            return
        if message.content == "boom":
            raise RuntimeError("listener failed")
        async with message.channel.typing():
            await message.channel.send("slow answer")

    harness.bot.add_listener(on_message)
    guild = harness.add_guild()
    channel = guild.text_channels[0]
    alice = harness.add_member(guild, "alice")
    harness.message_create(channel, alice, "hello")
    await harness.settle()
    assert [r.content for r in harness.fake.sent_messages(channel.id)] == ["slow answer"]
    assert harness.fake.find("POST", rf"/channels/{channel.id}/typing")

    harness.message_create(channel, alice, "boom")
    await harness.settle()
    [record] = harness.errors
    assert "listener failed" in repr(record.exc_info)
    harness.errors.clear()  # expected: keep the strict harness from failing the test


async def test_network_stays_local(harness: DiscordHarness) -> None:
    url = harness.attachment("note.txt", b"hello", content_type="text/plain")["url"]
    assert url.startswith("https://cdn.discordapp.com/attachments/")
    assert await harness.bot.http.get_from_cdn(url) == b"hello"
    local = harness.fake.local_url_for(url)
    assert local.startswith(harness.fake.base_url + "/cdn/attachments/")
    session = harness.bot.http._HTTPClient__session  # type: ignore[attr-defined]
    with pytest.raises(aiohttp.ClientError):
        await session.get("https://discord.com/api/v10/gateway")


async def test_members_intent_caches_members(discord_harness: HarnessFactory) -> None:
    intents = default_intents()
    intents.members = True
    bot = commands.Bot(command_prefix=(), intents=intents, max_messages=None)
    h = await discord_harness(bot)
    guild = h.add_guild()
    assert guild.chunked
    alice = h.add_member(guild, "alice", nick="Al")
    cached = guild.get_member(alice.id)
    assert cached is not None and cached.display_name == "Al"
    message = h.message_create(guild.text_channels[0], alice, "no cache")
    assert message.author.id == alice.id and isinstance(message.author, discord.Member)

