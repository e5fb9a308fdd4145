"""Usage: ``/omni usage`` shows tokens (and estimated cost) today and this month, with a chart
of the last 30 days; ``scope:server`` shows the server's (Manage Server).

Usage itself is recorded by the chat and caption cogs from each reply's usage chunk; the daily
cap per member is enforced before a request is made.
"""

from __future__ import annotations

import asyncio
import io
from datetime import UTC, datetime
from typing import Literal

import discord
from discord import app_commands
from discord.ext import commands
from omnicord.cogs.utils.omni_group import add_commands, remove_commands
from omnicord.cogs.utils.places import guild_key
from omnicord.cogs.utils.runtime import Runtime, cog_of, release, setup_cog
from omnicord.cogs.utils.streaming import NO_PINGS
from omnicord.policy.usage import UsageTotals, today
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


def describe(label: str, totals: UsageTotals) -> str:
    """One line: tokens in and out, and the cost where every model's price is known."""
    cost = f", about ${totals.cost:.4f}" if totals.cost is not None else ""
    return (f"**{label}:** {totals.total_tokens:,} tokens ({totals.prompt_tokens:,} in, "
            f"{totals.completion_tokens:,} out){cost}")


class Usage(commands.Cog):
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
        ledger = self.runtime.usage
        user = str(interaction.user.id)
        lines = [
            describe("You today", await ledger.totals(since_day=today(), user_id=user)),
            describe("You this month", await ledger.totals(since_day=month_start(),
                                                           user_id=user)),
        ]
        effective = await self.runtime.admission.effective(guild_key(interaction.guild), user)
        if effective.daily_token_cap:
            lines.append(f"Daily cap: {effective.daily_token_cap:,} tokens")
        if interaction.guild is not None and interaction.permissions.manage_guild:
            lines.append(await self.server_report(guild_key(interaction.guild)))
        return "\n".join(lines)

    async def server_report(self, guild_id: str) -> str:
        """The server's usage today and this month."""
        ledger = self.runtime.usage
        return "\n".join([
            describe("Server today", await ledger.totals(since_day=today(), guild_id=guild_id)),
            describe("Server this month", await ledger.totals(since_day=month_start(),
                                                              guild_id=guild_id)),
        ])

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
    cog = cog_of(interaction, "Usage")
    if not isinstance(cog, Usage):
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
    await setup_cog(bot, Usage)
