"""Monthly budgets: a server's (tokens, and US dollars where prices are known) and the whole
bot's (``OMNICORD_MONTHLY_BUDGET_TOKENS``, ``OMNICORD_MONTHLY_BUDGET_USD``).

Spend is read from the store's monthly totals (``store.month_usage``), which the database
counts with every usage row from every process and which no erasure or pruning lowers. A
request is refused before anything is sent to the model once a budget is spent; replies already
under way finish, so a month may overshoot by at most what they use. At 80% the admins are told
once per budget owner and month (one WARNING line on ``omnicord.usage``, claimed in the store so
one process of many says it, and a ⚠️ line in ``/omni-admin status`` while it lasts).

Dollars are counted for the models with a known price only: with a model whose price is
unknown, the dollars spent are a lower bound (the refusal still comes once the priced part
reaches the budget) and the status names the models to price.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Literal

from omnicord.errors import InputError
from omnicord.i18n import DEFAULT_LANGUAGE, Text, t, text
from omnicord.model.catalog import Price
from omnicord.policy.usage import Money
from omnicord.store.interface import Store

log = logging.getLogger("omnicord.usage")

#: The share of a budget at which the admins are told (once a month).
NOTICE_AT = 0.8
#: The whole bot's key in the monthly totals; a server's is ``guild:<id>``.
BOT = "bot"

_MONTHS = ("January", "February", "March", "April", "May", "June", "July", "August",
           "September", "October", "November", "December")

Owner = Literal["server", "bot"]
Unit = Literal["tokens", "dollars"]


class OverBudget(InputError):
    """A monthly budget is spent: nothing is sent to the model until the next UTC month."""


def this_month() -> str:
    """The current UTC month, ``YYYY-MM``."""
    return datetime.now(UTC).strftime("%Y-%m")


def month_name(month: str) -> str:
    """``December`` for ``2026-12``."""
    return _MONTHS[int(month[5:7]) - 1]


def month_text(month: str) -> Text:
    """The month of ``YYYY-MM`` in a member's language (``December``, ``12月``, ``diciembre``)."""
    return text(f"usage.month.{int(month[5:7])}")


def first_of(month: str) -> Text:
    """The first day of ``month`` (``YYYY-MM``), UTC, in a member's language."""
    return text("usage.first_of", month=month_text(month))


def next_month(month: str) -> str:
    """The month after ``month`` (``YYYY-MM``)."""
    year, number = int(month[:4]), int(month[5:7])
    return f"{year + number // 12:04d}-{number % 12 + 1:02d}"


@dataclass(frozen=True)
class Budget:
    """One monthly budget and what was spent of it this month."""

    owner: Owner
    unit: Unit
    limit: float
    spent: float
    unpriced: tuple[str, ...] = ()  # models used without a price: dollars are a lower bound

    @property
    def share(self) -> float:
        """The part of the budget spent (1.0: all of it)."""
        return self.spent / self.limit

    @property
    def over(self) -> bool:
        """Whether the budget is spent."""
        return self.spent >= self.limit

    @property
    def near(self) -> bool:
        """Whether at least ``NOTICE_AT`` of it, but not all, is spent."""
        return NOTICE_AT <= self.share < 1

    def amount(self, value: float, language: str = DEFAULT_LANGUAGE) -> str:
        """``1,000,000 tokens`` or ``$5.00`` (in ``language``)."""
        return self.amount_text(value).render(language)

    def amount_text(self, value: float) -> Text:
        """An amount of this budget's unit, to render in a member's language."""
        return (text("usage.tokens", count=int(value)) if self.unit == "tokens"
                else Money.of(value))

    def refusal(self, month: str) -> Text:
        """The one polite line a member gets while the budget is spent."""
        again = first_of(next_month(month))
        if self.owner == "bot":
            return text("errors_access.over_budget_bot", month=month_text(month), again=again)
        return text("errors_access.over_budget_server", month=month_text(month),
                    limit=self.amount_text(self.limit), again=again)


@dataclass(frozen=True)
class BudgetStatus:
    """This month's budgets of a server and of the bot, as ``/omni-admin status`` shows them."""

    month: str
    server: Sequence[Budget]
    bot: Sequence[Budget]
    server_tokens: int  # used by the server this month, budget or not
    server_dollars: float | None  # None: a model it used has no price

    def lines(self, language: str = DEFAULT_LANGUAGE) -> list[str]:
        """The report in ``language``, one line each: the server's budgets, the bot-wide
        state, warnings."""
        lines = [t(language, "usage.status.title", month=month_text(self.month),
                   year=self.month[:4])]
        used = text("usage.tokens", count=self.server_tokens)
        if self.server_dollars is not None:
            used = text("usage.status.used_priced", tokens=used,
                        money=Money.of(self.server_dollars))
        if not self.server:
            lines.append(t(language, "usage.status.server_none", used=used))
        for budget in self.server:
            lines.append(t(language, "usage.status.server_budget", unit=_unit(budget),
                           spent=budget.amount_text(budget.spent),
                           limit=budget.amount_text(budget.limit), percent=_share(budget))
                         + _unpriced_note(budget, language))
        # Other servers' spend is theirs: the bot-wide budget is shown as a share only.
        lines += [t(language, "usage.status.bot_budget", unit=_unit(budget),
                    percent=_share(budget)) for budget in self.bot] or [
            t(language, "usage.status.bot_none")]
        again = first_of(next_month(self.month))
        for budget in (*self.server, *self.bot):
            if budget.over:
                lines.append(t(language, f"usage.status.over_{budget.owner}",
                               unit=_unit(budget), again=again))
            elif budget.near:
                lines.append(t(language, f"usage.status.near_{budget.owner}",
                               unit=_unit(budget), percent=_share(budget)))
        return lines


def _share(budget: Budget) -> int:
    """The whole percent of the budget spent."""
    return int(budget.share * 100)


def _percent(budget: Budget) -> str:
    return f"{_share(budget)}%"


def _unit(budget: Budget) -> Text:
    return text(f"usage.unit.{budget.unit}")


def _unpriced_note(budget: Budget, language: str) -> str:
    if not budget.unpriced:
        return ""
    return t(language, "usage.status.unpriced", models=", ".join(budget.unpriced))


class Budgets:
    """The monthly budgets over the store's totals and the price list."""

    def __init__(self, store: Store, prices: Mapping[str, Price], *, bot_tokens: int = 0,
                 bot_dollars: float = 0.0) -> None:
        self.store = store
        self.prices = prices
        self.bot_tokens = bot_tokens
        self.bot_dollars = bot_dollars
        self._noticed: set[str] = set()  # notices claimed here or elsewhere: never asked again

    async def check(self, guild_id: str) -> None:
        """OverBudget (one polite line) if the server's (``guild_id``; '' for DMs) or the
        bot's monthly budget is spent; at 80% the admins are told once."""
        month = this_month()
        server = await self._server(guild_id, month) if guild_id else []
        bot = await self._bot(month)
        for budget in (*bot, *server):
            if budget.over:
                raise OverBudget(budget.refusal(month))
        for owner, budgets in ((guild_id, server), (BOT, bot)):
            near = [budget for budget in budgets if budget.near]
            if near:
                await self._notice(owner, month, near)

    async def status(self, guild_id: str) -> BudgetStatus:
        """This month's budgets of the server and of the bot, and the server's spend."""
        month = this_month()
        used = await self.store.month_usage(f"guild:{guild_id}", month)
        dollars, unpriced = self._cost(used)
        return BudgetStatus(
            month, await self._server(guild_id, month, used), await self._bot(month),
            server_tokens=sum(p + c for _, p, c in used),
            server_dollars=None if unpriced else dollars)

    def prices_known(self) -> bool:
        """Whether any chat model has a price (else a money budget could never be counted)."""
        from omnicord.model.catalog import chat_models

        return any(model.name in self.prices for model in chat_models())

    async def _server(self, guild_id: str, month: str,
                      used: list[tuple[str, int, int]] | None = None) -> list[Budget]:
        prefs = await self.store.preferences.guild(guild_id)
        tokens, dollars = prefs.monthly_token_budget, prefs.monthly_money_budget
        if not tokens and not dollars:
            return []
        if used is None:
            used = await self.store.month_usage(f"guild:{guild_id}", month)
        return self._budgets("server", used, tokens, dollars)

    async def _bot(self, month: str) -> list[Budget]:
        if not self.bot_tokens and not self.bot_dollars:
            return []
        used = await self.store.month_usage(BOT, month)
        return self._budgets("bot", used, self.bot_tokens, self.bot_dollars)

    def _budgets(self, owner: Owner, used: list[tuple[str, int, int]], tokens: int | None,
                 dollars: float | None) -> list[Budget]:
        budgets = []
        if tokens:
            budgets.append(Budget(owner, "tokens", tokens, sum(p + c for _, p, c in used)))
        if dollars:
            cost, unpriced = self._cost(used)
            budgets.append(Budget(owner, "dollars", dollars, cost, unpriced))
        return budgets

    def _cost(self, used: list[tuple[str, int, int]]) -> tuple[float, tuple[str, ...]]:
        """Dollars of the priced models, and the models used without a price."""
        cost, unpriced = 0.0, []
        for model, prompt, completion in used:
            price = self.prices.get(model)
            if price is None:
                if prompt or completion:
                    unpriced.append(model)
                continue
            cost += (prompt * price.input_per_million
                     + completion * price.output_per_million) / 1e6
        return cost, tuple(unpriced)

    async def _notice(self, owner: str, month: str, near: list[Budget]) -> None:
        """One WARNING line per owner and month, from the one process that claims it."""
        key = f"budget-80:{owner}:{month}"
        if key in self._noticed:
            return
        claimed = await self.store.claim_notice(key)
        self._noticed.add(key)
        if not claimed:
            return
        whose = "the bot" if owner == BOT else f"server {owner}"
        for budget in near:
            log.warning("budget: %s has used %s of its %s monthly %s budget (%s of %s)", whose,
                        _percent(budget), month, budget.unit, budget.amount(budget.spent),
                        budget.amount(budget.limit))
