"""``/omni usage`` through the simulated gateway: the report with its 30-day chart, yours or
(for managers) the server's."""

from __future__ import annotations

import io

import discord
from omnicord.cogs.runtime.shared import current
from omnicord.cogs.usage import MANAGERS_ONLY, SERVER_ONLY
from PIL import Image

from tests.doubles.fake_discord.server import CapturedRequest
from tests.doubles.omnicord_bot import World
from tests.doubles.omnicord_bot import world as world

BLURPLE = (88, 101, 242)  # the chart's "tokens in" bars


async def usage(world: World, user: discord.abc.User, options=None, *,
                channel=None) -> CapturedRequest:
    """Run ``/omni usage``; the interaction's response."""
    interaction = world.h.slash(channel or world.channel, user, "omni usage", options or {})
    await world.h.settle(timeout=20)
    [response] = world.fake.interaction_responses(interaction["token"])
    assert response.ok
    return response


def chart(response: CapturedRequest) -> Image.Image:
    """The PNG attached to a response, opened."""
    [part] = response.files
    assert part.filename == "usage.png"
    image = Image.open(io.BytesIO(part.data))
    image.load()
    assert image.format == "PNG" and image.size == (1200, 600)
    return image


def has_bars(image: Image.Image) -> bool:
    return BLURPLE in {colour for _, colour in image.getcolors(maxcolors=1 << 16) or []}


async def test_usage_attaches_a_chart_of_the_members_last_30_days(world: World) -> None:
    before = await usage(world, world.member)
    assert not has_bars(chart(before))  # no usage yet: the chart says so
    await world.ask("count my tokens")
    after = await usage(world, world.member)
    assert "You today:" in (after.content or "") and after.payload["data"]["flags"] & 64
    assert has_bars(chart(after))
    assert after.files[0].data != before.files[0].data
    admins = await usage(world, world.admin)  # the admin asked nothing: their own chart
    assert not has_bars(chart(admins)) and "Server today:" in (admins.content or "")


async def test_managers_get_the_servers_chart_and_members_one_line(world: World) -> None:
    await world.ask("count my tokens")
    server = await usage(world, world.admin, {"scope": "server"})
    assert "Server today:" in (server.content or "") and "You today" not in (server.content or "")
    assert has_bars(chart(server))  # the member's tokens count for the server
    refused = await usage(world, world.member, {"scope": "server"})
    assert refused.content == str(MANAGERS_ONLY) and refused.files == []
    dm = await usage(world, world.member, {"scope": "server"},
                     channel=world.h.dm_channel(world.member))
    assert dm.content == str(SERVER_ONLY) and dm.files == []


CAPTIONER, FLASH = "qwen3-omni-30b-a3b-captioner", "qwen3-omni-flash"
HINT = ("Cost unknown for qwen3-omni-flash: set `OMNICORD_PRICES=qwen3-omni-flash=IN/OUT` "
        "(USD per million tokens)")
GREEN, WARNING = (87, 242, 135), (250, 168, 26)  # the second model's bars; the price hint


async def test_usage_splits_by_model_and_says_once_how_to_price_the_chat_model(
        world: World) -> None:
    await world.ask("count my tokens")  # the chat model: no price built in
    alone = await usage(world, world.member)
    assert (alone.content or "").endswith(f"cost unknown\n{HINT}")  # one model: no split
    runtime = current(world.bot)
    assert runtime is not None
    await runtime.usage.record(user_id=str(world.member.id), model=CAPTIONER, prompt_tokens=3000,
                               completion_tokens=300, guild_id=str(world.guild.id),
                               channel_id=str(world.channel.id))
    mine = await usage(world, world.member)
    lines = (mine.content or "").splitlines()
    assert lines[0].startswith("**You today:** ") and lines[0].endswith(", cost unknown")
    assert f"- {CAPTIONER}: 3,300 tokens, cost $0.01" in lines  # $0.0123
    flash = [line for line in lines if line.startswith(f"- {FLASH}: ")]
    assert len(flash) == 2 and all(line.endswith(" tokens, cost unknown") for line in flash)
    assert lines[-1] == HINT and (mine.content or "").count("OMNICORD_PRICES") == 1
    colours = {colour for _, colour in chart(mine).getcolors(maxcolors=1 << 16) or []}
    assert {BLURPLE, GREEN, WARNING} <= colours  # a colour per model, and the hint drawn
    admin = await usage(world, world.admin)  # their own (nothing) and the server's
    text = admin.content or ""
    assert "**You today:** 0 tokens (0 in, 0 out), cost $0.00" in text
    assert f"- {CAPTIONER}: 3,300 tokens, cost $0.01" in text
    assert text.count("OMNICORD_PRICES") == 1 and text.endswith(HINT)
