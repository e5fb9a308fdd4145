"""``SocketGateway``: a plain discord.py bot connects over a real websocket, gets READY and its
guild, receives dispatches, and sees what it sent over REST come back as gateway events."""

from __future__ import annotations

import asyncio

import discord
import discord.http
import pytest

from tests.doubles.fake_discord import FakeDiscord
from tests.doubles.fake_discord.ws_gateway import SocketGateway, has_message_content


async def test_a_bot_connects_and_receives_events(monkeypatch: pytest.MonkeyPatch) -> None:
    with FakeDiscord() as fake:
        monkeypatch.setattr(discord.http.Route, "BASE", fake.api_base)
        gateway = SocketGateway(fake)
        guild = gateway.add_guild("Socket Test")
        member = gateway.add_member(guild, "bo")
        intents = discord.Intents.none()
        intents.guilds = intents.guild_messages = True
        bot = discord.AutoShardedClient(intents=intents)
        seen: asyncio.Queue[discord.Message] = asyncio.Queue()

        @bot.event
        async def on_message(message: discord.Message) -> None:
            await seen.put(message)

        async with bot:
            running = asyncio.create_task(bot.start("fake-token"))
            await asyncio.wait_for(bot.wait_until_ready(), 20)
            [identify] = gateway.identifies
            assert identify["token"] == "fake-token" and identify["shard"] == [0, 1]
            assert not has_message_content(identify)
            [cached] = bot.guilds
            assert cached.id == guild.id and cached.name == "Socket Test"
            await asyncio.to_thread(gateway.message_create, guild, guild.channel_ids[0],
                                    member, "hello", mention_bot=True)
            received = await asyncio.wait_for(seen.get(), 10)
            assert received.author.id == int(member["id"]) and bot.user in received.mentions
            await received.channel.send("hi back")
            echoed = await asyncio.wait_for(seen.get(), 10)  # Discord echoes the bot's own
            assert echoed.author == bot.user and echoed.content == "hi back"
            await bot.close()
            await asyncio.wait_for(running, 10)
