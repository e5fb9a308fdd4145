"""Token usage per member, channel and model, daily caps, and cost estimates.

Prices are per million tokens in US dollars. The captioner's come from the vendor page; the
chat models' are not published there, so they are configurable (``OMNICORD_PRICES``).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

from omnicord.errors import InputError
from omnicord.i18n import Text, language_of, t, text
from omnicord.i18n.formatting import format_number
from omnicord.model.catalog import Price, all_models, find_model
from omnicord.store.interface import Store
from omnicord.store.records import UsageRow, utc_now, utc_today


class OverDailyCap(InputError):
    """A member used their daily tokens; they are served again tomorrow (UTC)."""


today = utc_today


def parse_prices(text: str) -> dict[str, Price]:
    """``model=input/output,model=input/output`` (dollars per million tokens)."""
    prices: dict[str, Price] = {}
    for item in filter(None, (part.strip() for part in text.split(","))):
        name, _, pair = item.partition("=")
        given_in, _, given_out = pair.partition("/")
        try:
            price = Price(float(given_in), float(given_out))
        except ValueError:
            raise ValueError(f"bad price {item!r}: use model=input/output") from None
        prices[find_model(name.strip()).name] = price
    return prices


def default_prices(region: str = "intl") -> dict[str, Price]:
    """Prices the vendor pages give (the captioner's), and those a models file gives."""
    return {m.name: m.prices[region] for m in all_models() if region in m.prices}


def usage_row(
    *, user_id: str, model: str, prompt_tokens: int, completion_tokens: int,
    guild_id: str = "", channel_id: str = "", began_at: str | None = None,
) -> UsageRow:
    """A usage row, its model named canonically so snapshots and aliases add up; ``began_at``
    (default now) is when the work it paid for began."""
    return UsageRow(user_id=user_id, model=find_model(model).name, prompt_tokens=prompt_tokens,
                    completion_tokens=completion_tokens, guild_id=guild_id,
                    channel_id=channel_id, began_at=began_at or utc_now())


@dataclass(frozen=True)
class UsageTotals:
    """Tokens and, where prices are known, dollars."""

    prompt_tokens: int = 0
    completion_tokens: int = 0
    cost: float | None = None

    @property
    def total_tokens(self) -> int:
        """Input plus output tokens."""
        return self.prompt_tokens + self.completion_tokens

    def __add__(self, other: UsageTotals) -> UsageTotals:
        """Both usages together (cost None if either's is unknown)."""
        cost = None if self.cost is None or other.cost is None else self.cost + other.cost
        return UsageTotals(self.prompt_tokens + other.prompt_tokens,
                           self.completion_tokens + other.completion_tokens, cost)


@dataclass(frozen=True)
class DayTotals:
    """One UTC day's usage, in all and per model."""

    day: str  # YYYY-MM-DD
    totals: UsageTotals
    models: Mapping[str, UsageTotals] = field(default_factory=dict)


#: The most days a daily report covers (a year and a day).
MAX_DAYS = 366


def last_days(count: int, until_day: str | None = None) -> list[str]:
    """The ``count`` UTC days ending with ``until_day`` (default today), oldest first."""
    if not 1 <= count <= MAX_DAYS:
        raise InputError(f"days must be between 1 and {MAX_DAYS}, not {count}")
    end = date.fromisoformat(until_day or today())
    return [(end - timedelta(days=back)).isoformat() for back in range(count - 1, -1, -1)]


def overall(days: Iterable[DayTotals]) -> UsageTotals:
    """The sum of several days' usage (cost None if any day's is unknown)."""
    return sum((day.totals for day in days), UsageTotals(cost=0.0))


def per_model(days: Iterable[DayTotals]) -> dict[str, UsageTotals]:
    """Several days' usage summed per model, the most tokens first."""
    sums: dict[str, UsageTotals] = {}
    for day in days:
        for model, totals in day.models.items():
            sums[model] = sums.get(model, UsageTotals(cost=0.0)) + totals
    return ranked(sums)


def ranked(models: Mapping[str, UsageTotals]) -> dict[str, UsageTotals]:
    """``models`` with usage, the most tokens first (then by name)."""
    order = sorted(models.items(), key=lambda item: (-item[1].total_tokens, item[0]))
    return {model: totals for model, totals in order if totals.total_tokens}


def unpriced(models: Mapping[str, UsageTotals]) -> list[str]:
    """The models used whose cost is unknown (no price for them)."""
    return [model for model, totals in models.items()
            if totals.cost is None and totals.total_tokens]


def price_hint(models: Iterable[str], quote: str = "") -> str | None:
    """How to give the missing prices (None when none are missing); ``quote`` wraps the
    setting (a backtick for Discord)."""
    missing = list(dict.fromkeys(models))
    if not missing:
        return None
    setting = "OMNICORD_PRICES=" + ",".join(f"{model}=IN/OUT" for model in missing)
    return (f"cost unknown for {', '.join(missing)}: set {quote}{setting}{quote} "
            "(USD per million tokens)")


def money(dollars: float) -> str:
    """Dollars for people: cents with thousands separators (``$1,234.50``), ``$0.00`` for
    nothing, and ``<$0.01`` for any amount under a cent, never fractions of a cent."""
    if 0 < dollars < 0.01:
        return "<$0.01"
    return f"${dollars:,.2f}"


class Money(Text):
    """An amount of US dollars shown in a member's language (``Money.of(1.2)``): cents with the
    language's separators, ``<$0.01`` for any amount under a cent."""

    @classmethod
    def of(cls, dollars: float) -> Money:
        """The amount as a catalogue value."""
        return cls("usage.money", {"dollars": dollars})

    def render(self, language: str) -> str:
        dollars = float(self.values["dollars"])
        if 0 < dollars < 0.01:
            return t(language, "usage.money_under_a_cent")
        amount = format_number(language_of(language), dollars, decimals=2)
        return t(language, "usage.money", amount=amount)


def cost_text(totals: UsageTotals) -> str:
    """``cost $1.20``, ``cost <$0.01`` or ``cost unknown``."""
    return "cost unknown" if totals.cost is None else f"cost {money(totals.cost)}"


class UsageLedger:
    """Usage rows in the store (shared by every process using it)."""

    def __init__(self, store: Store, prices: dict[str, Price] | None = None) -> None:
        self._store = store
        self.prices = prices if prices is not None else default_prices()

    async def record(
        self, *, user_id: str, model: str, prompt_tokens: int, completion_tokens: int,
        guild_id: str = "", channel_id: str = "", began_at: str | None = None,
    ) -> bool:
        """Add one request's usage (a chat turn stores its usage with the turn instead), begun
        at ``began_at`` (default now); False (nothing kept) if the member was erased since."""
        return await self._store.add_usage(usage_row(
            user_id=user_id, model=model, prompt_tokens=prompt_tokens,
            completion_tokens=completion_tokens, guild_id=guild_id, channel_id=channel_id,
            began_at=began_at))

    async def totals(self, *, since_day: str, user_id: str | None = None,
                     guild_id: str | None = None) -> UsageTotals:
        """Usage since a day (inclusive), for a member and/or a server."""
        return self._sum(await self.by_model(since_day=since_day, user_id=user_id,
                                             guild_id=guild_id))

    async def by_model(self, *, since_day: str, user_id: str | None = None,
                       guild_id: str | None = None) -> dict[str, UsageTotals]:
        """Usage since a day (inclusive) per model, the most tokens first."""
        rows = await self._store.usage_by_model(since_day=since_day, user_id=user_id,
                                                guild_id=guild_id)
        return self._models(rows)

    async def daily(self, *, days: int, user_id: str | None = None,
                    guild_id: str | None = None, until_day: str | None = None
                    ) -> list[DayTotals]:
        """Each of the last ``days`` UTC days' usage, oldest first, days without any at 0."""
        wanted = last_days(days, until_day)
        rows = await self._store.usage_by_day(since_day=wanted[0], until_day=wanted[-1],
                                              user_id=user_id, guild_id=guild_id)
        by_day: dict[str, list[tuple[str, int, int]]] = {}
        for day, model, used_in, used_out in rows:
            by_day.setdefault(day, []).append((model, used_in, used_out))
        report: list[DayTotals] = []
        for day in wanted:
            models = self._models(by_day.get(day, []))
            report.append(DayTotals(day, self._sum(models), models))
        return report

    def _models(self, rows: Iterable[Any]) -> dict[str, UsageTotals]:
        """Rows of (model, tokens in, tokens out) summed and priced per model."""
        sums: dict[str, UsageTotals] = {}
        for model, used_in, used_out in rows:
            sums[model] = sums.get(model, UsageTotals(cost=0.0)) + self._priced(
                model, used_in, used_out)
        return ranked(sums)

    def _priced(self, model: str, used_in: int, used_out: int) -> UsageTotals:
        price = self.prices.get(model)
        cost = None if price is None else (used_in * price.input_per_million
                                           + used_out * price.output_per_million) / 1e6
        return UsageTotals(used_in, used_out, cost)

    @staticmethod
    def _sum(models: Mapping[str, UsageTotals]) -> UsageTotals:
        return sum(models.values(), UsageTotals(cost=0.0))

    async def check_cap(self, user_id: str, cap: int | None) -> None:
        """OverDailyCap if the member reached ``cap`` tokens today (None or 0: no cap)."""
        if not cap:
            return
        used = await self.totals(since_day=today(), user_id=user_id)
        if used.total_tokens >= cap:
            raise OverDailyCap(text("errors_access.daily_cap", cap=cap))
