"""The hooks a host bot's own commands call: erasing a member and the data statement."""

from __future__ import annotations

import discord
import pytest
from discord.ext import commands
from omnicord.cogs.hooks import OmnicordNotLoaded, data_statement, forget_member

from tests.doubles.omnicord_bot import World
from tests.doubles.omnicord_bot import world as world


async def test_a_host_command_erases_a_member_as_forget_me_does(world: World) -> None:
    await world.ask("remember my cat is called Quokka")
    await world.ask("the admin's own question", author=world.admin)
    removed = await forget_member(world.bot, world.member.id)
    assert (removed.turns, removed.usage) == (1, 1)
    assert [t.speaker_id for t in await world.turns()] == [
        str(world.admin.id)]
    assert world.fake.find("DELETE", r"/channels/\d+/messages/\d+") == []  # Discord's stay
    with pytest.raises(ValueError, match="not a Discord user id"):
        await forget_member(world.bot, "１２３")


async def test_a_host_reads_the_data_statement_members_see(world: World) -> None:
    statement = data_statement(world.bot)
    assert "/omni forget me" in statement and "a SQLite file" in statement
    assert len(statement) < 1000


async def test_hooks_say_plainly_when_omnicord_is_not_loaded() -> None:
    bot = commands.Bot(command_prefix="!", intents=discord.Intents.none())
    with pytest.raises(OmnicordNotLoaded, match="load an Omnicord extension"):
        await forget_member(bot, 42)
    with pytest.raises(OmnicordNotLoaded):
        data_statement(bot)
