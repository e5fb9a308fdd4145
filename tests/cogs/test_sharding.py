"""Gateway sharding: ``OmnicordBot`` runs the shards its settings name, and each process answers
only the guilds Discord routes to its shards.

Each process is a real ``OmnicordBot`` whose shards connect to ``FakeGateway`` through
discord.py's own connection code (IDENTIFY, READY, ``on_shard_ready``, ``on_ready``) with no
websocket; the processes share one ``FakeDiscord`` and tell their requests apart by token.
"""

from __future__ import annotations

import contextlib
import logging
import re
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import discord
import pytest
from discord.ext import commands
from omnicord.cogs.delivery.streaming import CLEANUP_TASK_PREFIX
from omnicord.cogs.runner import OmnicordBot, format_shard_ids, intents

from tests.doubles.fake_dashscope import FakeDashScope
from tests.doubles.fake_discord import (
    CapturedRequest,
    DiscordHarness,
    FakeDiscord,
    FakeGateway,
    shard_of,
)
from tests.doubles.omnicord_bot import make_settings

FIRST_HALF = {"OMNICORD_SHARD_COUNT": 4, "OMNICORD_SHARD_IDS": "0-1"}
SECOND_HALF = {"OMNICORD_SHARD_COUNT": 4, "OMNICORD_SHARD_IDS": "2-3"}


@dataclass
class Process:
    """One ``omnicord run`` process: its bot, and the harness that drives it."""

    token: str
    bot: OmnicordBot
    h: DiscordHarness

    def sent(self, request: CapturedRequest) -> bool:
        """Whether this process made ``request``."""
        return request.headers.get("Authorization") == f"Bot {self.token}"


@dataclass
class Discord:
    """The fake Discord the processes share: REST API and gateway."""

    fake: FakeDiscord
    gateway: FakeGateway

    def ask(self, process: Process, guild: discord.Guild, text: str) -> discord.Message:
        """A new member of ``guild`` mentions the bot (delivered as the gateway routes it)."""
        member = process.h.add_member(guild, f"member-{guild.id}")
        return process.h.message_create(guild.text_channels[0], member, text, mention_bot=True)

    def guild_on(self, process: Process, shard_id: int, shard_count: int) -> discord.Guild:
        """A guild whose events Discord routes to ``shard_id`` (``process`` receives it)."""
        guild_id = self.fake.new_guild_id(shard_id, shard_count)
        return process.h.add_guild(f"shard {shard_id}", guild_id=guild_id)


@contextlib.asynccontextmanager
async def discord_with(
    model: FakeDashScope, folder: Path, *shard_settings: dict[str, object],
    recommended_shards: int = 1,
) -> AsyncIterator[tuple[Discord, list[Process]]]:
    """One fake Discord and one connected process per settings (sharing the database)."""
    with FakeDiscord() as fake:
        fake.recommended_shards = recommended_shards
        world = Discord(fake, FakeGateway(fake))
        async with contextlib.AsyncExitStack() as stack:
            processes = [await stack.enter_async_context(
                _process(world, model, folder, f"process-{n}", settings))
                for n, settings in enumerate(shard_settings)]
            yield world, processes


@contextlib.asynccontextmanager
async def _process(world: Discord, model: FakeDashScope, folder: Path, token: str,
                   settings: dict[str, object]) -> AsyncIterator[Process]:
    bot = OmnicordBot(make_settings(model, folder, **settings))
    bot.omnicord_url_rewrite = world.fake.local_url_for  # type: ignore[attr-defined]
    async with DiscordHarness(bot, fake=world.fake, gateway=world.gateway, token=token) as h:
        h.ignored_task_prefixes.append(CLEANUP_TASK_PREFIX)
        yield Process(token, bot, h)


def ready_lines(output: str) -> list[str]:
    """The ready lines printed (without the invite URL on the next line)."""
    return re.findall(r"^Omnicord is online as .*$", output, flags=re.MULTILINE)


def assert_answered_once_by(world: Discord, question: discord.Message, owner: Process) -> None:
    """Exactly one reply to ``question``, and every request in its channel came from ``owner``."""
    [reply] = world.fake.sent_messages(question.channel.id)
    assert int(reply.payload["message_reference"]["message_id"]) == question.id
    touched = world.fake.find("*", rf"/channels/{question.channel.id}(/.*)?")
    assert touched and all(owner.sent(request) for request in touched)


@pytest.mark.parametrize(
    ("shard_ids", "text"),
    [([0], "0"), ([0, 1, 2, 3], "0-3"), ([0, 1, 2, 3, 8], "0-3,8"),
     ([10, 3, 4, 5, 9, 4], "3-5,9-10"), ([1, 3, 5], "1,3,5")],
)
def test_shard_ids_format_as_compact_ranges(shard_ids: list[int], text: str) -> None:
    assert format_shard_ids(shard_ids) == text


def test_the_bot_takes_its_shards_from_the_settings(
    dashscope: FakeDashScope, tmp_path: Path
) -> None:
    split = OmnicordBot(make_settings(dashscope, tmp_path, OMNICORD_SHARD_COUNT=16,
                                      OMNICORD_SHARD_IDS="0-3,8"))
    assert isinstance(split, commands.AutoShardedBot)
    assert (split.shard_count, split.shard_ids) == (16, [0, 1, 2, 3, 8])
    assert split.served_shards() == "shards 0-3,8 of 16"
    counted = OmnicordBot(make_settings(dashscope, tmp_path, OMNICORD_SHARD_COUNT=1))
    assert (counted.shard_count, counted.shard_ids) == (1, None)
    assert counted.served_shards() == "shard 0 of 1"
    default = OmnicordBot(make_settings(dashscope, tmp_path))
    assert isinstance(default, commands.AutoShardedBot)
    assert (default.shard_count, default.shard_ids) == (None, None)  # Discord recommends
    assert default.served_shards() == "all shards"
    assert default.allowed_mentions is not None
    assert default.allowed_mentions.to_dict() == discord.AllowedMentions.none().to_dict()
    assert default.intents == intents()


async def test_two_processes_each_answer_only_the_guilds_on_their_shards(
    dashscope: FakeDashScope, tmp_path: Path, capsys: pytest.CaptureFixture[str],
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO, logger="omnicord")
    async with discord_with(dashscope, tmp_path, FIRST_HALF, SECOND_HALF) as (world, procs):
        first, second = procs
        assert (first.bot.shard_count, first.bot.shard_ids) == (4, [0, 1])
        assert (second.bot.shard_count, second.bot.shard_ids) == (4, [2, 3])
        assert world.gateway.shards_of(first.bot) == [[0, 4], [1, 4]]
        assert world.gateway.shards_of(second.bot) == [[2, 4], [3, 4]]
        for session in world.gateway.sessions:
            assert session.identify["intents"] == intents().value
            assert session.identify["token"] in (first.token, second.token)

        owners = {0: first, 1: first, 2: second, 3: second}
        questions = {}
        for shard_id, owner in owners.items():
            guild = world.guild_on(owner, shard_id, 4)
            assert shard_of(guild.id, 4) == guild.shard_id == shard_id
            other = second if owner is first else first
            assert other.bot.get_guild(guild.id) is None  # its GUILD_CREATE went elsewhere
            questions[shard_id] = world.ask(owner, guild, f"question on shard {shard_id}")
        # A DM travels on shard 0, whichever process the member's message is handed to.
        someone = second.h.user("someone")
        direct = second.h.message_create(second.h.dm_channel(someone), someone, "in private")
        await first.h.settle(timeout=20)

        for shard_id, question in questions.items():
            assert_answered_once_by(world, question, owners[shard_id])
        [dm_reply] = world.fake.sent_messages(direct.channel.id)
        assert first.sent(dm_reply)
        assert len(dashscope.accepted) == 5

    assert ready_lines(capsys.readouterr().out) == [
        "Omnicord is online as Omnicord, serving shards 0-1 of 4. Invite it with:",
        "Omnicord is online as Omnicord, serving shards 2-3 of 4. Invite it with:",
    ]
    logged = [r.getMessage() for r in caplog.records if r.name == "omnicord"]
    for shard_id in range(4):
        assert f"shard {shard_id} of 4 connected" in logged
        assert f"shard {shard_id} of 4 ready with 0 guilds" in logged


async def test_without_shard_settings_one_process_runs_discords_recommended_shards(
    dashscope: FakeDashScope, tmp_path: Path, capsys: pytest.CaptureFixture[str],
) -> None:
    async with discord_with(dashscope, tmp_path, {}, recommended_shards=2) as (world, procs):
        [only] = procs
        assert world.fake.find("GET", "/gateway/bot")  # asked Discord for its recommendation
        assert (only.bot.shard_count, only.bot.shard_ids) == (2, None)
        assert world.gateway.shards_of(only.bot) == [[0, 2], [1, 2]]
        questions = [world.ask(only, world.guild_on(only, shard_id, 2), "hello")
                     for shard_id in (0, 1)]
        await only.h.settle(timeout=20)
        for question in questions:
            assert_answered_once_by(world, question, only)
    assert ready_lines(capsys.readouterr().out) == [
        "Omnicord is online as Omnicord, serving shards 0-1 of 2. Invite it with:"]
