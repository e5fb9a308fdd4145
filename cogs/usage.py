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
from omnicord.cogs.runtime.locale import member_language
from omnicord.cogs.runtime.omni_group import add_commands, remove_commands
from omnicord.cogs.runtime.shared import Runtime, cog_of, release, setup_cog
from omnicord.i18n import DEFAULT_LANGUAGE, Text, t, text
from omnicord.policy.budgets import Budgets
from omnicord.policy.preferences import SettingRefused
from omnicord.policy.usage import Money, UsageTotals, today, unpriced
from omnicord.policy.usage_chart import render_usage_chart

#: Days the chart covers.
CHART_DAYS = 30
CHART_NAME = "usage.png"
SERVER_ONLY = text("usage.server_only")
MANAGERS_ONLY = text("usage.managers_only")


def month_start() -> str:
    """The first day of the current UTC month."""
    return datetime.now(UTC).strftime("%Y-%m-01")


#: A labelled stretch of usage (``You today``) and its usage per model.
Period = tuple[Text, Mapping[str, UsageTotals]]


def cost_of(totals: UsageTotals) -> Text:
    """``cost $1.20`` or ``cost unknown``, to render in the member's language."""
    if totals.cost is None:
        return text("usage.cost_unknown")
    return text("usage.cost", amount=Money.of(totals.cost))


def describe(language: str, label: Text, models: Mapping[str, UsageTotals]) -> list[str]:
    """A period's line (tokens in and out, cost), then one per model when several were used."""
    totals = sum(models.values(), UsageTotals(cost=0.0))
    lines = [t(language, "usage.period", label=label,
               total=text("usage.tokens", count=totals.total_tokens),
               prompt=totals.prompt_tokens, completion=totals.completion_tokens,
               cost=cost_of(totals))]
    if len(models) > 1:
        lines += [t(language, "usage.model_line", model=model,
                    total=text("usage.tokens", count=used.total_tokens), cost=cost_of(used))
                  for model, used in models.items()]
    return lines


def compose(language: str, parts: Sequence[Period | Text]) -> str:
    """The report in ``language``: each period described, other lines as they are, and once
    at the end how to give the prices that are missing."""
    lines: list[str] = []
    missing: list[str] = []
    for part in parts:
        if isinstance(part, Text):
            lines.append(part.render(language))
        else:
            lines += describe(language, *part)
            missing += unpriced(part[1])
    missing = list(dict.fromkeys(missing))
    if missing:
        setting = "OMNICORD_PRICES=" + ",".join(f"{model}=IN/OUT" for model in missing)
        lines.append(t(language, "usage.price_hint", models=", ".join(missing),
                       setting=f"`{setting}`"))
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
            raise SettingRefused(text("usage.budgets_unavailable"))
        return self.runtime.admission.budgets

    async def set_budget(self, guild: str, tokens: int | None, dollars: float | None,
                         language: str = DEFAULT_LANGUAGE) -> str:
        """Change the server's monthly budgets (None: unchanged, 0: removed); the new ones,
        in ``language``."""
        if (tokens or 0) < 0 or (dollars or 0) < 0:
            raise SettingRefused(text("usage.budget_negative"))
        if dollars and not self.budgets.prices_known():
            raise SettingRefused(NO_PRICES)
        store = self.runtime.preferences
        current = await store.guild(guild)
        if tokens is not None:
            current = replace(current, monthly_token_budget=tokens or None)
        if dollars is not None:
            current = replace(current, monthly_money_budget=dollars or None)
        await store.save_guild(guild, current)
        chosen = [f"**{shown.render(language)}**" for shown in (
            text("usage.tokens", count=current.monthly_token_budget)
            if current.monthly_token_budget else None,
            Money.of(current.monthly_money_budget) if current.monthly_money_budget else None,
        ) if shown is not None]
        if not chosen:
            return t(language, "usage.no_budget")
        budgets = chosen[0] if len(chosen) == 1 else t(language, "usage.both", first=chosen[0],
                                                       second=chosen[1])
        return t(language, "usage.budget_set", budgets=budgets)

    async def report(self, interaction: discord.Interaction) -> str:
        """The member's usage, and the server's for members who manage it (in the member's
        language)."""
        user = str(interaction.user.id)
        parts: list[Period | Text] = await self.periods("you", user_id=user)
        effective = await self.runtime.admission.effective(guild_key(interaction.guild), user)
        if effective.daily_token_cap:
            parts.append(text("usage.daily_cap",
                              tokens=text("usage.tokens", count=effective.daily_token_cap)))
        if interaction.guild is not None and interaction.permissions.manage_guild:
            parts += await self.periods("server", guild_id=guild_key(interaction.guild))
        return compose(member_language(interaction), parts)

    async def server_report(self, guild_id: str, language: str = DEFAULT_LANGUAGE) -> str:
        """The server's usage today and this month."""
        return compose(language, await self.periods("server", guild_id=guild_id))

    async def periods(self, who: str, *, user_id: str | None = None,
                      guild_id: str | None = None) -> list[Period | Text]:
        """Usage per model today and this month, for a member (``who`` "you") or a server
        ("server")."""
        ledger = self.runtime.usage
        return [(text(f"usage.{who}_{label}"),
                 await ledger.by_model(since_day=since, user_id=user_id, guild_id=guild_id))
                for label, since in (("today", today()), ("this_month", month_start()))]

    async def chart(self, title: str, *, user_id: str | None = None,
                    guild_id: str | None = None,
                    language: str = DEFAULT_LANGUAGE) -> discord.File:
        """The last ``CHART_DAYS`` days' usage as a PNG bar chart (drawn off the event loop);
        its description (the alt text) in ``language``, the picture's own words in English
        (its font has no CJK glyphs)."""
        days = await self.runtime.usage.daily(days=CHART_DAYS, user_id=user_id,
                                              guild_id=guild_id)
        png = await asyncio.to_thread(render_usage_chart, days, title=title)
        titles = {"Server usage": "usage.chart_server", "Your Omnicord usage": "usage.chart_you"}
        shown = t(language, titles[title]) if title in titles else title
        return discord.File(io.BytesIO(png), filename=CHART_NAME,
                            description=t(language, "usage.chart_description", title=shown,
                                          days=CHART_DAYS))


@app_commands.command(name="usage", description="Your Omnicord token usage and its cost")
@app_commands.describe(scope="yours (default), or the whole server's (Manage Server)")
async def usage_command(interaction: discord.Interaction,
                        scope: Literal["me", "server"] = "me") -> None:
    """``/omni usage [scope:me|server]``: the report, with a chart of the last 30 days."""
    language = member_language(interaction)
    cog = cog_of(interaction, OmnicordUsage)
    if not isinstance(cog, OmnicordUsage):
        await interaction.response.send_message(t(language, "usage.not_available"),
                                                ephemeral=True)
        return
    if scope == "server":
        if interaction.guild is None or not interaction.permissions.manage_guild:
            refusal = SERVER_ONLY if interaction.guild is None else MANAGERS_ONLY
            await interaction.response.send_message(refusal.render(language), ephemeral=True,
                                                    allowed_mentions=NO_PINGS)
            return
        guild = guild_key(interaction.guild)
        report = await cog.server_report(guild, language)
        chart = await cog.chart("Server usage", guild_id=guild, language=language)
    else:
        report = await cog.report(interaction)
        chart = await cog.chart("Your Omnicord usage", user_id=str(interaction.user.id),
                                language=language)
    await interaction.response.send_message(report, file=chart, ephemeral=True,
                                            allowed_mentions=NO_PINGS)


#: Why a dollar budget cannot be set without prices, and how to give them.
NO_PRICES = text("usage.no_prices")


def usage_cog(interaction: discord.Interaction) -> OmnicordUsage:
    """The loaded usage cog."""
    cog = cog_of(interaction, OmnicordUsage)
    if not isinstance(cog, OmnicordUsage):
        raise SettingRefused(text("usage.not_available"))
    return cog


@app_commands.command(name="budget", description="This server's monthly budget (0 removes it)")
@app_commands.describe(tokens="tokens per UTC month for the whole server (0: none)",
                       dollars="US dollars per UTC month, for models with a price (0: none)")
async def server_budget(interaction: discord.Interaction,
                        tokens: app_commands.Range[int, 0, 10**12] | None = None,
                        dollars: app_commands.Range[float, 0.0, 1e9] | None = None) -> None:
    """``/omni-admin budget [tokens] [dollars]``: set or remove (0) the server's budgets."""
    guild = require_manage_guild(interaction)
    answer = await usage_cog(interaction).set_budget(guild, tokens, dollars,
                                                     member_language(interaction))
    await interaction.response.send_message(answer, ephemeral=True, allowed_mentions=NO_PINGS)


@app_commands.command(name="status", description="This month's spend against the server's "
                      "and the bot's budgets")
async def server_status(interaction: discord.Interaction) -> None:
    """``/omni-admin status``: this month's spend, budgets, and a ⚠️ line from 80%."""
    guild = require_manage_guild(interaction)
    status = await usage_cog(interaction).budgets.status(guild)
    await interaction.response.send_message("\n".join(status.lines(member_language(interaction))),
                                            ephemeral=True, allowed_mentions=NO_PINGS)


#: The ``/omni-admin`` commands of this cog.
ADMIN_COMMANDS: tuple[app_commands.Command[Any, ..., Any], ...] = (server_budget,
                                                                  server_status)


async def setup(bot: commands.Bot) -> None:
    """Load the usage cog."""
    await setup_cog(bot, OmnicordUsage)
