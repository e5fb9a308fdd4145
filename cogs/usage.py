"""Usage: ``/omni usage`` shows tokens (and estimated cost) today and this month, with a chart
of the last 30 days; ``scope:server`` shows the server's (Manage Server).

Usage itself is recorded by the chat and caption cogs from each reply's usage chunk; the daily
cap per member is enforced before a request is made.
"""

from __future__ import annotations

import asyncio
import io
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Literal

import discord
from discord import app_commands
from discord.ext import commands
from omnicord.cogs.access.places import guild_key
from omnicord.cogs.delivery.streaming import NO_PINGS
from omnicord.cogs.runtime.omni_group import add_commands, remove_commands
from omnicord.cogs.runtime.shared import Runtime, cog_of, release, setup_cog
from omnicord.policy.usage import UsageTotals, cost_text, price_hint, today, unpriced
from omnicord.policy.usage_chart import render_usage_chart

#: Days the chart covers.
CHART_DAYS = 30
CHART_NAME = "usage.png"
SERVER_ONLY = "Server usage is only shown in a server."
MANAGERS_ONLY = ("Server usage is for members with the Manage Server permission; "
                 "`/omni usage` shows yours.")


def month_start() -> str:
    """The first day of the current UTC month."""
    return datetime.now(UTC).strftime("%Y-%m-01")


#: A labelled stretch of usage (``You today``) and its usage per model.
Period = tuple[str, Mapping[str, UsageTotals]]


def describe(label: str, models: Mapping[str, UsageTotals]) -> list[str]:
    """A period's line (tokens in and out, cost), then one per model when several were used."""
    totals = sum(models.values(), UsageTotals(cost=0.0))
    lines = [f"**{label}:** {totals.total_tokens:,} tokens ({totals.prompt_tokens:,} in, "
             f"{totals.completion_tokens:,} out), {cost_text(totals)}"]
    if len(models) > 1:
        lines += [f"- {model}: {used.total_tokens:,} tokens, {cost_text(used)}"
                  for model, used in models.items()]
    return lines


def compose(parts: Sequence[Period | str]) -> str:
    """The report: each period described, other lines as they are, and once at the end how
    to give the prices that are missing."""
    lines: list[str] = []
    missing: list[str] = []
    for part in parts:
        if isinstance(part, str):
            lines.append(part)
        else:
            lines += describe(*part)
            missing += unpriced(part[1])
    hint = price_hint(missing, quote="`")
    if hint:
        lines.append(hint[0].upper() + hint[1:])
    return "\n".join(lines)


class OmnicordUsage(commands.Cog):
    """Token usage reports."""

    def __init__(self, bot: commands.Bot, runtime: Runtime) -> None:
        self.bot = bot
        self.runtime = runtime

    async def cog_load(self) -> None:
        add_commands(self.bot, usage_command)

    async def cog_unload(self) -> None:
        remove_commands(self.bot, usage_command)
        await release(self.bot)

    async def report(self, interaction: discord.Interaction) -> str:
        """The member's usage, and the server's for members who manage it."""
        user = str(interaction.user.id)
        parts: list[Period | str] = await self.periods("You", user_id=user)
        effective = await self.runtime.admission.effective(guild_key(interaction.guild), user)
        if effective.daily_token_cap:
            parts.append(f"Daily cap: {effective.daily_token_cap:,} tokens")
        if interaction.guild is not None and interaction.permissions.manage_guild:
            parts += await self.periods("Server", guild_id=guild_key(interaction.guild))
        return compose(parts)

    async def server_report(self, guild_id: str) -> str:
        """The server's usage today and this month."""
        return compose(await self.periods("Server", guild_id=guild_id))

    async def periods(self, who: str, *, user_id: str | None = None,
                      guild_id: str | None = None) -> list[Period | str]:
        """Usage per model today and this month, for a member or a server."""
        ledger = self.runtime.usage
        return [(f"{who} {label}", await ledger.by_model(since_day=since, user_id=user_id,
                                                         guild_id=guild_id))
                for label, since in (("today", today()), ("this month", month_start()))]

    async def chart(self, title: str, *, user_id: str | None = None,
                    guild_id: str | None = None) -> discord.File:
        """The last ``CHART_DAYS`` days' usage as a PNG bar chart (drawn off the event loop)."""
        days = await self.runtime.usage.daily(days=CHART_DAYS, user_id=user_id,
                                              guild_id=guild_id)
        png = await asyncio.to_thread(render_usage_chart, days, title=title)
        return discord.File(io.BytesIO(png), filename=CHART_NAME,
                            description=f"{title}: tokens per day, last {CHART_DAYS} days")


@app_commands.command(name="usage", description="Your Omnicord token usage and its cost")
@app_commands.describe(scope="yours (default), or the whole server's (Manage Server)")
async def usage_command(interaction: discord.Interaction,
                        scope: Literal["me", "server"] = "me") -> None:
    """``/omni usage [scope:me|server]``: the report, with a chart of the last 30 days."""
    cog = cog_of(interaction, OmnicordUsage)
    if not isinstance(cog, OmnicordUsage):
        await interaction.response.send_message("Usage is not available.", ephemeral=True)
        return
    if scope == "server":
        if interaction.guild is None or not interaction.permissions.manage_guild:
            refusal = SERVER_ONLY if interaction.guild is None else MANAGERS_ONLY
            await interaction.response.send_message(refusal, ephemeral=True,
                                                    allowed_mentions=NO_PINGS)
            return
        guild = guild_key(interaction.guild)
        text = await cog.server_report(guild)
        chart = await cog.chart("Server usage", guild_id=guild)
    else:
        text = await cog.report(interaction)
        chart = await cog.chart("Your Omnicord usage", user_id=str(interaction.user.id))
    await interaction.response.send_message(text, file=chart, ephemeral=True,
                                            allowed_mentions=NO_PINGS)


async def setup(bot: commands.Bot) -> None:
    """Load the usage cog."""
    await setup_cog(bot, OmnicordUsage)
