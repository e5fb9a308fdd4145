"""Usage: ``/omni usage`` shows tokens (and estimated cost) today and this month.

Usage itself is recorded by the chat and caption cogs from each reply's usage chunk; the daily
cap per member is enforced before a request is made.
"""

from __future__ import annotations

from datetime import UTC, datetime

import discord
from discord import app_commands
from discord.ext import commands
from omnicord.cogs.utils.omni_group import add_commands, remove_commands
from omnicord.cogs.utils.places import guild_key
from omnicord.cogs.utils.runtime import Runtime, cog_of, release, setup_cog
from omnicord.cogs.utils.streaming import NO_PINGS
from omnicord.policy.usage import UsageTotals, today


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
            guild = guild_key(interaction.guild)
            lines += [
                describe("Server today", await ledger.totals(since_day=today(), guild_id=guild)),
                describe("Server this month", await ledger.totals(since_day=month_start(),
                                                                  guild_id=guild)),
            ]
        return "\n".join(lines)


@app_commands.command(name="usage", description="Your Omnicord token usage and its cost")
async def usage_command(interaction: discord.Interaction) -> None:
    """``/omni usage``."""
    cog = cog_of(interaction, "Usage")
    if not isinstance(cog, Usage):
        await interaction.response.send_message("Usage is not available.", ephemeral=True)
        return
    await interaction.response.send_message(await cog.report(interaction), ephemeral=True,
                                            allowed_mentions=NO_PINGS)


async def setup(bot: commands.Bot) -> None:
    """Load the usage cog."""
    await setup_cog(bot, Usage)
