"""Offline test double of Discord's REST API, and a gateway-free driver for a real discord.py bot.

- ``server.py``: ``FakeDiscord``, an aiohttp server on 127.0.0.1 that records every request the
  bot makes (``CapturedRequest``) and answers like Discord; ``routes.py`` holds its route
  handlers and ``rules.py`` the limits and error answers they enforce.
- ``payloads.py``: the Discord API v10 objects (users, roles, members, channels, threads).
- ``harness.py``: ``DiscordHarness``, which feeds gateway payloads to discord.py's own parsers,
  and the pytest fixtures ``harness`` and ``discord_harness``.
- ``gateway.py``: ``FakeGateway``, for sharding: bots connect their shards to it without a
  websocket (IDENTIFY and READY), and it routes each guild's events to the shard that owns it.
- ``ws_gateway.py``: ``SocketGateway``, a real websocket gateway on the same server, for a bot
  in another process (``omnicord run`` started by ``tests/doubles/run_omnicord.py``).

Typical use::

    async def test_reply(discord_harness):
        h = await discord_harness(my_bot)            # logged in, setup_hook has run
        guild = h.add_guild()                        # GUILD_CREATE: cached at once
        alice = h.add_member(guild, "alice")
        msg = h.message_create(guild.text_channels[0], alice, "hi", mention_bot=True)
        await h.settle()                             # listeners and their HTTP calls are done
        [sent] = h.fake.sent_messages(msg.channel.id)
        assert sent.json["message_reference"]["message_id"] == msg.id

Import the fixtures into a test module as
``from tests.doubles.fake_discord import harness as harness``.
"""

from tests.doubles.fake_discord.gateway import FakeGateway, Session, shard_of
from tests.doubles.fake_discord.harness import (
    DiscordHarness,
    HarnessFactory,
    default_intents,
    discord_harness,
    harness,
)
from tests.doubles.fake_discord.payloads import (
    DEFAULT_BOT_PERMISSIONS,
    DEFAULT_EVERYONE_PERMISSIONS,
)
from tests.doubles.fake_discord.rules import IS_VOICE_MESSAGE, DiscordError
from tests.doubles.fake_discord.server import CapturedPart, CapturedRequest, FakeDiscord, Fault

__all__ = [
    "DEFAULT_BOT_PERMISSIONS",
    "DEFAULT_EVERYONE_PERMISSIONS",
    "IS_VOICE_MESSAGE",
    "CapturedPart",
    "CapturedRequest",
    "DiscordError",
    "DiscordHarness",
    "FakeDiscord",
    "FakeGateway",
    "Fault",
    "HarnessFactory",
    "Session",
    "default_intents",
    "discord_harness",
    "harness",
    "shard_of",
]
