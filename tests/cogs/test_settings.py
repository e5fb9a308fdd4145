"""Settings, usage and the plugin contract, through the simulated gateway."""

from __future__ import annotations

import json

import discord
import pytest
from discord.ext import commands
from omnicord.cogs import EXTENSIONS
from omnicord.cogs.runner import REQUIRED_PERMISSIONS, intents, invite_url

from tests.doubles.fake_dashscope import FakeDashScope
from tests.doubles.fake_discord import DiscordHarness
from tests.doubles.fake_discord.rules import EPHEMERAL
from tests.doubles.omnicord_bot import World, make_settings
from tests.doubles.omnicord_bot import world as world


async def run(world: World, user: discord.Member, command: str, options=None) -> str:
    interaction = world.h.slash(world.channel, user, command, options or {})
    await world.h.settle(timeout=20)
    responses = world.fake.interaction_responses(interaction["token"])
    return responses[-1].content if responses else world.fake.followups(
        interaction["token"])[-1].content


@pytest.mark.parametrize(
    ("command", "options"),
    [
        ("omni-admin model", {"model": "qwen-omni-turbo"}),
        ("omni-admin voice", {"voice": "Ethan"}),
        ("omni-admin replies", {"mode": "voice"}),
        ("omni-admin thinking", {"enabled": True}),
        ("omni-admin chat-channel", {"enabled": True}),
        ("omni-admin caption-channel", {"enabled": True}),
        ("omni-admin persona", {"prompt": "Talk like a pirate."}),
        ("omni-admin token-cap", {"tokens": 5000}),
    ],
)
async def test_server_settings_need_manage_server(world: World, command: str, options) -> None:
    # Discord hides /omni-admin from members, but an admin may grant it to anyone in
    # Integrations: the check still runs, and the refusal is answered privately.
    asked = world.h.slash(world.channel, world.member, command, options)
    await world.h.settle(timeout=20)
    (refused,) = world.fake.interaction_responses(asked["token"])
    assert "Manage Server" in (refused.content or "")
    assert refused.payload["data"]["flags"] & EPHEMERAL
    allowed = await run(world, world.admin, command, options)
    assert "⚠️" not in allowed


async def test_settings_change_what_replies_use(world: World) -> None:
    await run(world, world.admin, "omni-admin model", {"model": "qwen-omni-turbo"})
    await run(world, world.admin, "omni-admin voice", {"voice": "Serena"})
    await run(world, world.admin, "omni-admin replies", {"mode": "both"})
    await run(world, world.admin, "omni-admin persona", {"prompt": "Talk like a pirate."})
    await world.ask("ahoy")
    sent = world.model.accepted[-1]
    assert sent["model"] == "qwen-omni-turbo"
    assert sent["audio"] == {"voice": "Serena", "format": "wav"}
    first = sent["messages"][0]["content"][0]["text"]  # turbo + speech: no system message
    assert "Talk like a pirate." in first
    await run(world, world.member, "omni me voice", {"voice": "Chelsie"})
    await run(world, world.member, "omni me replies", {"mode": "text"})
    await world.ask("again")
    assert "audio" not in world.model.accepted[-1]
    status = await run(world, world.member, "omni status")
    assert "qwen-omni-turbo" in status and "Chelsie" in status and "text" in status


@pytest.mark.parametrize(
    ("steps", "reason"),
    [
        ([("omni-admin voice", {"voice": "Nofish"})], None),
        ([("omni-admin model", {"model": "qwen-omni-turbo"}),
          ("omni-admin voice", {"voice": "Nofish"})], "has no voice 'Nofish'"),
        ([("omni-admin replies", {"mode": "voice"}),
          ("omni-admin thinking", {"enabled": True})], "text only"),
        ([("omni-admin model", {"model": "qwen-omni-turbo"}),
          ("omni-admin thinking", {"enabled": True})], "no thinking mode"),
        ([("omni-admin model", {"model": "gpt-4o"})], "Unknown chat model"),
    ],
)
async def test_invalid_combinations_are_refused_with_a_reason(
    world: World, steps, reason: str | None
) -> None:
    answers = [await run(world, world.admin, command, options) for command, options in steps]
    if reason is None:
        assert "⚠️" not in answers[-1]
    else:
        assert answers[-1].startswith("⚠️") and reason in answers[-1]


async def test_member_voice_is_checked_against_the_server_model(world: World) -> None:
    await run(world, world.admin, "omni-admin model", {"model": "qwen-omni-turbo"})
    answer = await run(world, world.member, "omni me voice", {"voice": "Rocky"})
    assert "choose from Cherry, Serena, Ethan, Chelsie" in answer


async def test_voice_autocomplete_follows_the_model(world: World) -> None:
    await run(world, world.admin, "omni-admin model", {"model": "qwen-omni-turbo"})
    for typed, expected in (("e", ["Cherry", "Serena", "Ethan", "Chelsie"]),
                            ("che", ["Cherry", "Chelsie"])):
        interaction = world.h.autocomplete(world.channel, world.member, "omni me voice",
                                           {"voice": typed}, focused="voice")
        await world.h.settle()
        (response,) = world.fake.interaction_responses(interaction["token"])
        assert [c["value"] for c in response.payload["data"]["choices"]] == expected


async def test_reset_and_export(world: World) -> None:
    await world.ask("remember the number 42")
    refused = await run(world, world.member, "omni reset")
    assert "Manage Messages" in refused
    interaction = world.h.slash(world.channel, world.admin, "omni export", {"format": "json"})
    await world.h.settle()
    (response,) = world.fake.interaction_responses(interaction["token"])
    exported = json.loads(response.files[0].data)
    assert exported["turns"][0]["text"] == "remember the number 42"
    moderator = world.h.add_member(world.guild, "mod",
                                   permissions=discord.Permissions(manage_messages=True))
    assert "(1 turn forgotten)" in await run(world, moderator, "omni reset")
    await world.ask("what was the number?")
    assert "42" not in str(world.model.accepted[-1]["messages"][1:-1])
    dm = world.h.dm_channel(world.member)
    world.h.message_create(dm, world.member, "private")
    await world.h.settle(timeout=20)
    mine = world.h.slash(dm, world.member, "omni reset")
    await world.h.settle()
    assert "(1 turn forgotten)" in world.fake.interaction_responses(mine["token"])[0].content


async def test_usage_report_and_cost(world: World, tmp_path) -> None:
    await world.ask("count my tokens")
    report = await run(world, world.member, "omni usage")
    assert "You today:" in report and "You this month:" in report
    assert "Server today" not in report
    admin_report = await run(world, world.admin, "omni usage")
    assert "Server today:" in admin_report


async def test_loads_into_any_bot_and_unloads_cleanly(dashscope: FakeDashScope, tmp_path) -> None:
    bot = commands.Bot(command_prefix="!", intents=intents())
    bot.omnicord_settings = make_settings(dashscope, tmp_path)  # type: ignore[attr-defined]
    async with DiscordHarness(bot) as h:
        for name in EXTENSIONS:
            await bot.load_extension(name)
        omni = bot.tree.get_command("omni")
        assert {c.name for c in omni.commands} >= {"thread", "caption", "me", "status",
                                                   "reset", "export", "usage", "forget"}
        admin = bot.tree.get_command("omni-admin")
        assert {c.name for c in admin.commands} >= {"model", "chat-channel", "allow-role"}
        assert bot.tree.get_command("Caption audio", type=discord.AppCommandType.message)
        assert bot._omnicord_runtime.users == len(EXTENSIONS)
        for name in EXTENSIONS:
            await bot.unload_extension(name)
        assert bot.tree.get_command("omni") is None
        assert bot.tree.get_command("omni-admin") is None
        assert bot.tree.get_command("Caption audio", type=discord.AppCommandType.message) is None
        assert not hasattr(bot, "_omnicord_runtime")
        assert not bot.extra_events.get("on_message")
        await h.settle()


def test_invite_asks_for_exactly_what_is_needed() -> None:
    url = invite_url(1234)
    assert f"permissions={REQUIRED_PERMISSIONS.value}" in url
    assert "scope=bot+applications.commands" in url
    assert REQUIRED_PERMISSIONS.send_voice_messages and not REQUIRED_PERMISSIONS.administrator
    wanted = intents()
    assert wanted.message_content and not wanted.members and not wanted.presences
