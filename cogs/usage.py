"""Usage: ``/omni usage`` shows tokens (and estimated cost) today and this month, with a chart
of the last 30 days; ``scope:server`` shows the server's (Manage Server). Budgets:
``/omni-admin budget`` sets the server's monthly budget (tokens, dollars) and
``/omni-admin status`` shows this month's spend against it and the bot-wide budget's state.

Usage itself is recorded by the chat and caption cogs from each reply's usage chunk; the daily
cap per member is enforced before a request is made.
"""

from __future__ import annotations

import asyncio
import io
from collections.abc import Mapping, Sequence
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any, Literal

import discord
from discord import app_commands
from discord.ext import commands
from omnicord.cogs.access.checks import require_manage_guild
from omnicord.cogs.access.places import guild_key
from omnicord.cogs.delivery.streaming import NO_PINGS
from omnicord.cogs.runtime.omni_group import add_commands, remove_commands
from omnicord.cogs.runtime.shared import Runtime, cog_of, release, setup_cog
from omnicord.policy.budgets import Budgets
from omnicord.policy.preferences import SettingRefused
from omnicord.policy.usage import UsageTotals, cost_text, money, price_hint, today, unpriced
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
        add_commands(self.bot, *ADMIN_COMMANDS, admin=True)

    async def cog_unload(self) -> None:
        remove_commands(self.bot, usage_command)
        remove_commands(self.bot, *ADMIN_COMMANDS, admin=True)
        await release(self.bot)

    @property
    def budgets(self) -> Budgets:
        """The monthly budgets the request gate checks."""
        if self.runtime.admission.budgets is None:
            raise SettingRefused("Budgets are not available in this bot")
        return self.runtime.admission.budgets

    async def set_budget(self, guild: str, tokens: int | None, dollars: float | None) -> str:
        """Change the server's monthly budgets (None: unchanged, 0: removed); the new ones."""
        if (tokens or 0) < 0 or (dollars or 0) < 0:
            raise SettingRefused("A budget cannot be negative (0 removes it)")
        if dollars and not self.budgets.prices_known():
            raise SettingRefused(NO_PRICES)
        store = self.runtime.preferences
        current = await store.guild(guild)
        if tokens is not None:
            current = replace(current, monthly_token_budget=tokens or None)
        if dollars is not None:
            current = replace(current, monthly_money_budget=dollars or None)
        await store.save_guild(guild, current)
        chosen = [f"**{current.monthly_token_budget:,} tokens**"
                  if current.monthly_token_budget else "",
                  f"**{money(current.monthly_money_budget)}**"
                  if current.monthly_money_budget else ""]
        return ("Monthly budget (UTC months): " + " and ".join(filter(None, chosen)) + "."
                if any(chosen) else "No monthly budget: the server's use is not limited.")

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


#: Why a dollar budget cannot be set without prices, and how to give them.
NO_PRICES = ("No chat model has a price, so a dollar budget could never be counted: the bot's "
             "owner can set `OMNICORD_PRICES=qwen3-omni-flash=IN/OUT` (US dollars per million "
             "tokens) and restart; a token budget works without prices.")


def usage_cog(interaction: discord.Interaction) -> OmnicordUsage:
    """The loaded usage cog."""
    cog = cog_of(interaction, OmnicordUsage)
    if not isinstance(cog, OmnicordUsage):
        raise SettingRefused("Usage is not available")
    return cog


@app_commands.command(name="budget", description="This server's monthly budget (0 removes it)")
@app_commands.describe(tokens="tokens per UTC month for the whole server (0: none)",
                       dollars="US dollars per UTC month, for models with a price (0: none)")
async def server_budget(interaction: discord.Interaction,
                        tokens: app_commands.Range[int, 0, 10**12] | None = None,
                        dollars: app_commands.Range[float, 0.0, 1e9] | None = None) -> None:
    """``/omni-admin budget [tokens] [dollars]``: set or remove (0) the server's budgets."""
    guild = require_manage_guild(interaction)
    text = await usage_cog(interaction).set_budget(guild, tokens, dollars)
    await interaction.response.send_message(text, ephemeral=True, allowed_mentions=NO_PINGS)


@app_commands.command(name="status", description="This month's spend against the server's "
                      "and the bot's budgets")
async def server_status(interaction: discord.Interaction) -> None:
    """``/omni-admin status``: this month's spend, budgets, and a ⚠️ line from 80%."""
    guild = require_manage_guild(interaction)
    status = await usage_cog(interaction).budgets.status(guild)
    await interaction.response.send_message("\n".join(status.lines()), ephemeral=True,
                                            allowed_mentions=NO_PINGS)


#: The ``/omni-admin`` commands of this cog.
ADMIN_COMMANDS: tuple[app_commands.Command[Any, ..., Any], ...] = (server_budget,
                                                                  server_status)


async def setup(bot: commands.Bot) -> None:
    """Load the usage cog."""
    await setup_cog(bot, OmnicordUsage)
