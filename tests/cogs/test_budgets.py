"""Monthly budgets through the simulated gateway: ``/omni-admin budget`` and ``status``, the
refusal before any request, the 80% notice once, and spend shared with another process."""

from __future__ import annotations

import logging
from pathlib import Path

import discord
import pytest
from omnicord.policy.budgets import month_name, next_month, this_month
from omnicord.store import SqliteStore, Store
from omnicord.store.records import UsageRow

from tests.cogs.test_talk import Talk
from tests.cogs.test_talk import talk as talk
from tests.doubles.fake_dashscope import FakeDashScope
from tests.doubles.fake_discord.rules import EPHEMERAL
from tests.doubles.fake_realtime.fixtures import fake_realtime as fake_realtime
from tests.doubles.fake_realtime.fixtures import fake_realtime_server as fake_realtime_server
from tests.doubles.fake_voice.fixtures import set_voice_state
from tests.doubles.omnicord_bot import World, running_world
from tests.doubles.omnicord_bot import world as world

MODEL = "qwen3-omni-flash"


async def run(world: World, user: discord.Member, command: str, options=None) -> str:
    interaction = world.h.slash(world.channel, user, command, options or {})
    await world.h.settle(timeout=20)
    (answer,) = world.fake.interaction_responses(interaction["token"])
    assert answer.payload["data"]["flags"] & EPHEMERAL
    return answer.content or ""


def store_of(world: World) -> Store:
    return world.bot._omnicord_runtime.services.store  # type: ignore[attr-defined]


async def spend(store: Store, world: World, tokens: int) -> None:
    """Usage written by "another process" (or earlier replies) for the world's server."""
    await store.add_usage(UsageRow(user_id="42", model=MODEL, prompt_tokens=tokens,
                                   completion_tokens=0, guild_id=str(world.guild.id)))


async def test_budget_commands_need_manage_server(world: World) -> None:
    for command, options in (("omni-admin budget", {"tokens": 1000}), ("omni-admin status", {})):
        refused = await run(world, world.member, command, options)
        assert "Manage Server" in refused
    assert (await store_of(world).preferences.guild(str(world.guild.id))).monthly_token_budget \
        is None


async def test_over_budget_a_member_gets_one_polite_line_and_the_model_nothing(
        world: World, tmp_path: Path) -> None:
    assert await run(world, world.admin, "omni-admin budget", {"tokens": 1000}) == (
        "Monthly budget (UTC months): **1,000 tokens**.")
    async with SqliteStore(tmp_path / "omnicord.db") as other:  # another bot process
        await spend(other, world, 1000)
    asked = len(world.model.requests)
    await world.ask("are you there?")
    month = this_month()
    assert world.texts()[1:] == [  # after the budget command's answer, one line
        f"⚠️ This server has used its Omnicord budget for {month_name(month)} (1,000 tokens); "
        f"Omnicord answers again on 1 {month_name(next_month(month))} (UTC)."]
    assert len(world.model.requests) == asked  # nothing was sent to the model
    status = await run(world, world.admin, "omni-admin status")
    assert "Server tokens: 1,000 tokens of 1,000 tokens (100%)" in status
    assert "⛔ This server has spent its monthly tokens budget" in status
    assert await run(world, world.admin, "omni-admin budget", {"tokens": 0}) == (
        "No monthly budget: the server's use is not limited.")
    await world.ask("and now?")
    assert len(world.model.requests) == asked + 1


async def test_at_80_percent_the_notice_is_logged_once_among_concurrent_replies(
        world: World, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING, logger="omnicord.usage")
    await run(world, world.admin, "omni-admin budget", {"tokens": 1_000_000})
    await spend(store_of(world), world, 850_000)
    for n in range(4):  # four members' mentions at once
        world.h.message_create(world.channel, world.member, f"question {n}", mention_bot=True)
    await world.h.settle(timeout=20)
    assert len(world.model.accepted) == 4  # below the budget: every one answered
    notices = [r for r in caplog.records if r.name == "omnicord.usage"]
    assert [r.levelno for r in notices] == [logging.WARNING]
    assert f"server {world.guild.id} has used 85% of its {this_month()} monthly tokens" in (
        notices[0].getMessage())
    status = await run(world, world.admin, "omni-admin status")
    assert "⚠️ This server has used 85% of its monthly tokens budget." in status
    assert "Bot-wide: no monthly budget" in status


async def test_a_dollar_budget_needs_a_price(dashscope: FakeDashScope, tmp_path: Path) -> None:
    async with running_world(dashscope, tmp_path / "a") as unpriced:
        refused = await run(unpriced, unpriced.admin, "omni-admin budget", {"dollars": 5.0})
        assert "⚠️ No chat model has a price" in refused and "OMNICORD_PRICES" in refused
        negative = await run(unpriced, unpriced.admin, "omni-admin budget", {"tokens": -1})
        assert negative.startswith("⚠️")
        assert (await store_of(unpriced).preferences.guild(
            str(unpriced.guild.id))).monthly_money_budget is None
    async with running_world(dashscope, tmp_path / "b",
                             OMNICORD_PRICES=f"{MODEL}=1/2") as priced:
        assert await run(priced, priced.admin, "omni-admin budget", {"dollars": 5.0}) == (
            "Monthly budget (UTC months): **$5.00**.")
        await spend(store_of(priced), priced, 4_000_000)  # $4.00 at $1 per million in
        status = await run(priced, priced.admin, "omni-admin status")
        assert "Server dollars: $4.00 of $5.00 (80%)" in status


async def test_the_bot_wide_budget_counts_every_process_on_the_database(
        dashscope: FakeDashScope, tmp_path: Path) -> None:
    async with running_world(dashscope, tmp_path, OMNICORD_MONTHLY_BUDGET_TOKENS=500) as one, \
            SqliteStore(tmp_path / "omnicord.db") as other:  # another bot process's writes
        await one.ask("still there?")  # answered: its usage is counted by the database
        assert len(dashscope.accepted) == 1
        used = sum(p + c for _, p, c in await other.month_usage("bot", this_month()))
        assert 0 < used < 500
        await other.add_usage(UsageRow(user_id="42", model=MODEL, prompt_tokens=500 - used,
                                       completion_tokens=0, guild_id="another server"))
        status = await run(one, one.admin, "omni-admin status")
        assert "⛔ Omnicord as a whole has spent its monthly tokens budget" in status
        assert "Bot-wide tokens: 100% of the monthly budget used" in status
        asked = len(dashscope.requests)
        await one.ask("and you?")
        assert one.texts()[-1] == (
            f"⚠️ Omnicord has used its budget for {month_name(this_month())}; it answers "
            f"again on 1 {month_name(next_month(this_month()))} (UTC).")
        assert len(dashscope.requests) == asked


async def test_live_talk_does_not_start_over_budget(talk: Talk) -> None:
    await talk.slash(talk.admin, "omni-admin talk", enabled=True)
    await talk.slash(talk.admin, "omni-admin budget", tokens=100)
    store = talk.bot._omnicord_runtime.services.store  # type: ignore[attr-defined]
    await store.add_usage(UsageRow(user_id="42", model=MODEL, prompt_tokens=100,
                                   completion_tokens=0, guild_id=str(talk.guild.id)))
    set_voice_state(talk.h, talk.guild, talk.member, talk.lounge)
    await talk.h.settle()
    answer = await talk.slash(talk.member, "omni talk start")
    assert "This server has used its Omnicord budget for" in answer
    assert talk.h.gateway is not None and talk.h.gateway.voice_requests == []
