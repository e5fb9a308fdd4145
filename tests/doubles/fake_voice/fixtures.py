"""``voice_harness``: a real discord.py bot connected through the fake gateway (so it can send
op 4), with a ``FakeVoiceServer`` answering its voice connection.

Import into a test module as ``from tests.doubles.fake_voice.fixtures import voice_harness as
voice_harness``. Then::

    async def test_hearing(voice_harness):
        h, voice = voice_harness                    # DiscordHarness, FakeVoiceServer
        guild = h.add_guild()
        channel = add_voice_channel(h, guild)       # a voice channel (CHANNEL_CREATE)
        client = await channel.connect(cls=OmnicordVoiceClient)
        await voice.wait_connected()
        await voice.speak(member.id, voiced(1.0))   # SPEAKING + encrypted Opus RTP
        voice.received                              # what the bot sent, decrypted
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import discord
import pytest_asyncio

from tests.doubles.fake_discord import DiscordHarness, FakeDiscord, FakeGateway
from tests.doubles.fake_discord.harness import default_intents
from tests.doubles.fake_discord.payloads import voice_channel_payload, voice_state_payload
from tests.doubles.fake_voice.server import FakeVoiceServer


def add_voice_channel(h: DiscordHarness, guild: discord.Guild,
                      name: str = "Lounge") -> discord.VoiceChannel:
    """Inject CHANNEL_CREATE for a voice channel (type 2) in ``guild``."""
    data = voice_channel_payload(h.fake.new_id(), guild.id, name, position=len(guild.channels))
    h.fake.channels[int(data["id"])] = data
    h.dispatch_gateway("CHANNEL_CREATE", data)
    channel = guild.get_channel(int(data["id"]))
    assert isinstance(channel, discord.VoiceChannel)
    return channel


def set_voice_state(h: DiscordHarness, guild: discord.Guild, member: discord.abc.User,
                    channel: discord.abc.Snowflake | None) -> None:
    """A member joins ``channel`` (or leaves voice, ``None``): VOICE_STATE_UPDATE, as the
    bot's cogs see it (``on_voice_state_update``, ``channel.members``)."""
    data = h.fake.members[(guild.id, member.id)]
    h.dispatch_gateway("VOICE_STATE_UPDATE", voice_state_payload(
        guild.id, channel.id if channel is not None else None, data, session_id="member"))


@pytest_asyncio.fixture
async def voice_harness() -> AsyncIterator[tuple[DiscordHarness, FakeVoiceServer]]:
    """A harness whose bot connected through ``FakeGateway`` with the voice states intent,
    and the voice server its voice connections reach."""
    intents = default_intents()
    intents.voice_states = True
    intents.members = True
    with FakeDiscord() as fake:
        gateway = FakeGateway(fake)
        async with FakeVoiceServer() as voice:
            gateway.voice = voice
            async with DiscordHarness(fake=fake, gateway=gateway, intents=intents) as h:
                yield h, voice
