"""A running Omnicord bot for cog tests: the real runner bot with every cog, a simulated
gateway and captured Discord HTTP (tests/doubles/fake_discord/), and the offline model server."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import discord
import pytest_asyncio
from omnicord.cogs.delivery.streaming import CLEANUP_TASK_PREFIX
from omnicord.cogs.runner import OmnicordBot
from omnicord.settings import Settings

from tests.doubles.fake_dashscope import FakeDashScope
from tests.doubles.fake_discord import DiscordHarness, FakeDiscord
from tests.doubles.media import ffmpeg


@dataclass
class World:
    """Everything a cog test touches."""

    h: DiscordHarness
    fake: FakeDiscord
    model: FakeDashScope
    bot: OmnicordBot
    guild: discord.Guild
    channel: discord.TextChannel
    admin: discord.Member
    member: discord.Member

    def replies(self, channel_id: int | None = None) -> list:
        """Messages the bot sent (successfully) to a channel."""
        return self.fake.sent_messages(channel_id or self.channel.id)

    def texts(self, channel_id: int | None = None) -> list[str]:
        """The bot's messages in a channel as they read now (after every edit)."""
        me = str(self.bot.user.id)
        return [m.get("content") or "" for m in
                self.fake.channel_messages(channel_id or self.channel.id)
                if m["author"]["id"] == me]

    async def turns(self, channel_id: int | None = None) -> list:
        """The stored turns of a channel: its shared history and its reply chains, oldest
        first."""
        place = channel_id or self.channel.id
        store = self.bot._omnicord_runtime.services.store  # type: ignore[attr-defined]
        return [turn for _, turn in await store.place_history(f"channel:{place}",
                                                              f"chain:{place}:")]

    def every_send_and_edit(self) -> list:
        """Every message create or edit the bot attempted, anywhere."""
        return [r for r in self.fake.requests
                if r.method in ("POST", "PATCH") and "/messages" in r.path]

    async def ask(self, content: str, **options) -> discord.Message:
        """A member mentions the bot in the main channel; wait until the bot is idle."""
        message = self.h.message_create(self.channel, options.pop("author", self.member),
                                        content, mention_bot=True, **options)
        await self.h.settle(timeout=20)
        return message


def make_settings(model: FakeDashScope, folder: Path, **overrides: object) -> Settings:
    """Settings pointing at the offline model server and a private database."""
    values: dict[str, object] = {
        "DASHSCOPE_API_KEY": model.api_key,
        "DASHSCOPE_BASE_URL": model.base_url,
        "OMNICORD_MAX_RETRIES": 0,
        "OMNICORD_DB": folder / "omnicord.db",
        "OMNICORD_CACHE_DIR": folder / "cache",
        "OMNICORD_COOLDOWN_SECONDS": 0,
        "OMNICORD_REQUEST_TIMEOUT": 20,
    }
    values.update(overrides)
    return Settings(**values)  # type: ignore[arg-type]


@contextlib.asynccontextmanager
async def running_world(
    model: FakeDashScope, folder: Path, **overrides: object
) -> AsyncIterator[World]:
    """The standalone bot with every cog, logged in to the fake Discord."""
    fake = FakeDiscord()
    fake.start()
    bot = OmnicordBot(make_settings(model, folder, **overrides))
    bot.omnicord_url_rewrite = fake.local_url_for  # type: ignore[attr-defined]
    try:
        async with DiscordHarness(bot, fake=fake) as h:
            h.ignored_task_prefixes.append(CLEANUP_TASK_PREFIX)  # notices vanish after 20 s
            guild = h.add_guild("Omni Test", channels=("general",))
            channel = guild.text_channels[0]
            admin = h.add_member(guild, "ada", manage_guild=True)
            member = h.add_member(guild, "bo")
            yield World(h, fake, model, bot, guild, channel, admin, member)
    finally:
        fake.stop()


@pytest_asyncio.fixture
async def world(dashscope: FakeDashScope, tmp_path: Path) -> AsyncIterator[World]:
    """A running Omnicord in a test server with an admin (ada) and a member (bo)."""
    async with running_world(dashscope, tmp_path) as running:
        yield running


def ogg_voice_note(folder: Path, seconds: float = 2.0) -> bytes:
    """A real Discord-style voice message: OGG/Opus 48 kHz mono."""
    path = folder / "voice-message.ogg"
    ffmpeg("-f", "lavfi", "-i", f"sine=frequency=220:sample_rate=48000:duration={seconds}",
           "-ac", "1", "-c:a", "libopus", "-b:a", "32k", str(path))
    return path.read_bytes()
