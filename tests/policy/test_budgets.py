"""Monthly budgets over real stores: refusals before any request, the 80% notice once across
processes, dollars where prices are known, and what ``/omni-admin status`` shows."""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path

import pytest
from omnicord.model.catalog import Price
from omnicord.policy.admission import Admission
from omnicord.policy.budgets import Budgets, OverBudget, month_name, next_month, this_month
from omnicord.policy.preferences import Defaults
from omnicord.policy.throttle import ConcurrencyLimit, Cooldown
from omnicord.policy.usage import UsageLedger
from omnicord.store import SqliteStore, Store
from omnicord.store.records import GuildPreferences, ReplyMode, UsageRow

PRICED, UNPRICED = "qwen3-omni-30b-a3b-captioner", "qwen3-omni-flash"
PRICES = {PRICED: Price(2.0, 4.0)}


async def spend(store: Store, tokens: int, *, guild: str = "5", model: str = PRICED,
                completion: int = 0) -> None:
    await store.add_usage(UsageRow(user_id="7", model=model, prompt_tokens=tokens,
                                   completion_tokens=completion, guild_id=guild))


async def budget_server(store: Store, tokens: int | None = None, dollars: float | None = None,
                        guild: str = "5") -> None:
    await store.preferences.save_guild(guild, GuildPreferences(
        monthly_token_budget=tokens, monthly_money_budget=dollars))


def test_months_roll_over_at_the_end_of_the_year() -> None:
    assert next_month("2026-12") == "2027-01"
    assert next_month("2026-01") == "2026-02"
    assert (month_name("2026-12"), month_name("2027-01")) == ("December", "January")


async def test_a_spent_server_budget_refuses_with_one_polite_line(tmp_path: Path) -> None:
    async with SqliteStore(tmp_path / "o.db") as store:
        budgets = Budgets(store, PRICES)
        await budget_server(store, tokens=1_000_000)
        await spend(store, 999_999)
        await budgets.check("5")  # one token left
        await budgets.check("6")  # another server has no budget
        await budgets.check("")  # a DM: only the bot's budget counts
        await spend(store, 1)
        with pytest.raises(OverBudget) as refused:
            await budgets.check("5")
    month = this_month()
    assert str(refused.value) == (
        f"This server has used its Omnicord budget for {month_name(month)} (1,000,000 tokens); "
        f"Omnicord answers again on 1 {month_name(next_month(month))} (UTC).")


async def test_the_bot_wide_budget_refuses_every_server_and_dm(tmp_path: Path) -> None:
    async with SqliteStore(tmp_path / "o.db") as store:
        budgets = Budgets(store, PRICES, bot_tokens=100)
        await spend(store, 60, guild="5")
        await spend(store, 30, guild="")  # DMs count for the bot
        await budgets.check("6")
        await spend(store, 10, guild="6")
        for guild in ("5", "6", ""):
            with pytest.raises(OverBudget, match=r"^Omnicord has used its budget for "):
                await budgets.check(guild)


async def test_a_money_budget_counts_priced_models_and_is_a_lower_bound_without_prices(
        tmp_path: Path) -> None:
    async with SqliteStore(tmp_path / "o.db") as store:
        budgets = Budgets(store, PRICES)
        await budget_server(store, dollars=1.0)
        await spend(store, 10_000_000, model=UNPRICED)  # no price: not counted in dollars
        await spend(store, 200_000, completion=100_000)  # $0.40 + $0.40
        await budgets.check("5")
        status = await budgets.status("5")
        assert status.server_dollars is None
        assert "Server dollars: $0.80 of $1.00 (80%); at least: cost unknown for " \
               f"{UNPRICED}" in status.lines()
        await spend(store, 100_000)  # $0.20 more: $1.00
        with pytest.raises(OverBudget, match=r"\(\$1\.00\)"):
            await budgets.check("5")


async def test_the_80_percent_notice_is_logged_once_across_processes(
        tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING, logger="omnicord.usage")
    async with SqliteStore(tmp_path / "o.db") as one, SqliteStore(tmp_path / "o.db") as two:
        await budget_server(one, tokens=1000)
        await spend(one, 790)
        first, second = Budgets(one, PRICES), Budgets(two, PRICES)
        await first.check("5")
        assert not caplog.records  # 79%: nothing yet
        await spend(two, 10)
        await asyncio.gather(*((first, second)[n % 2].check("5") for n in range(20)))
        await spend(two, 100)  # 90%: the same month's notice is not given again
        await asyncio.gather(first.check("5"), second.check("5"))
    lines = [r.getMessage() for r in caplog.records if r.name == "omnicord.usage"]
    assert lines == [f"budget: server 5 has used 80% of its {this_month()} monthly tokens "
                     "budget (800 tokens of 1,000 tokens)"]


async def test_status_shows_the_spend_the_bot_share_and_warnings(tmp_path: Path) -> None:
    async with SqliteStore(tmp_path / "o.db") as store:
        budgets = Budgets(store, PRICES, bot_tokens=10_000)
        assert "Server: no monthly budget (used this month: 0 tokens, $0.00)" in (
            await budgets.status("5")).lines()
        await budget_server(store, tokens=1000, dollars=5.0)
        await spend(store, 850)
        await spend(store, 9000, guild="6")  # another server's: only in the bot's share
        lines = (await budgets.status("5")).lines()
    assert lines[0] == f"**Budgets for {month_name(this_month())} {this_month()[:4]} (UTC)**"
    assert lines[1:] == [
        "Server tokens: 850 tokens of 1,000 tokens (85%)",
        "Server dollars: <$0.01 of $5.00 (0%)",
        "Bot-wide tokens: 98% of the monthly budget used",
        "⚠️ This server has used 85% of its monthly tokens budget.",
        "⚠️ Omnicord as a whole has used 98% of its monthly tokens budget.",
    ]


async def test_the_gate_refuses_an_over_budget_server_before_yielding(tmp_path: Path) -> None:
    async with SqliteStore(tmp_path / "o.db") as store:
        ledger = UsageLedger(store, PRICES)
        admission = Admission(
            Defaults(model=UNPRICED, voice="Cherry", reply_mode=ReplyMode.TEXT),
            store.preferences, ledger, cooldown=Cooldown(0, store.limits),
            concurrency=ConcurrencyLimit(0, store.limits), budgets=Budgets(store, PRICES))
        await budget_server(store, tokens=10)
        await spend(store, 10)
        entered = False
        with pytest.raises(OverBudget):
            async with admission.admit("5", 7):
                entered = True
        assert not entered
        async with admission.admit("6", 7) as effective:  # another server is served
            assert effective.model.name == UNPRICED
