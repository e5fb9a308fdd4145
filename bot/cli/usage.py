"""``omnicord usage``: tokens and cost per UTC day for an operator, for the whole bot or one
server or member, as a table and optionally a PNG chart."""

from __future__ import annotations

import argparse
from pathlib import Path

from omnicord.cli.output import EXIT_OK, note
from omnicord.cli.parser import discord_id
from omnicord.errors import InputError
from omnicord.files import write_private
from omnicord.policy.usage import (
    DayTotals,
    UsageLedger,
    default_prices,
    last_days,
    overall,
    parse_prices,
)
from omnicord.settings import Settings
from omnicord.store import open_store


async def run(args: argparse.Namespace, settings: Settings) -> int:
    """Print the daily table and totals; write the chart with ``--png``."""
    for flag, given in (("--guild", args.guild), ("--member", args.member)):
        if given is not None:
            discord_id(given, flag)
    last_days(args.days)  # InputError for a count out of range, before opening anything
    if args.png is not None and not args.png.resolve().parent.is_dir():
        raise InputError(f"cannot write {args.png}: its folder does not exist")
    if not settings.uses_postgresql and not settings.db_path.exists():
        note(f"there is no database at {settings.db_path} yet: no usage to show")
        return EXIT_OK
    async with open_store(settings.database, pool_size=1) as store:
        ledger = UsageLedger(store, default_prices() | parse_prices(settings.prices))
        days = await ledger.daily(days=args.days, user_id=args.member, guild_id=args.guild)
    print(table(days))
    if overall(days).cost is None:
        note("cost —: a model used has no known price; set OMNICORD_PRICES "
             "(model=input/output dollars per million tokens)")
    if args.png is not None:
        _write_chart(args.png, days, title(args.guild, args.member))
    return EXIT_OK


def title(guild: str | None, member: str | None) -> str:
    """Whose usage the chart shows."""
    if member and guild:
        return f"Omnicord usage: member {member} in server {guild}"
    if member or guild:
        return f"Omnicord usage: {'member' if member else 'server'} {member or guild}"
    return "Omnicord usage: the whole bot"


def table(days: list[DayTotals]) -> str:
    """One line per day (date, tokens in, tokens out, cost), then the total."""
    lines = [f"{'date':<10}  {'tokens in':>12}  {'tokens out':>12}  {'cost':>10}"]
    total = DayTotals("total", overall(days))
    for day in [*days, total]:
        totals = day.totals
        cost = "—" if totals.cost is None else f"${totals.cost:,.4f}"
        lines.append(f"{day.day:<10}  {totals.prompt_tokens:>12,}  "
                     f"{totals.completion_tokens:>12,}  {cost:>10}")
    return "\n".join(lines)


def _write_chart(path: Path, days: list[DayTotals], heading: str) -> None:
    from omnicord.policy.usage_chart import render_usage_chart  # Pillow, only when asked

    try:
        write_private(path, render_usage_chart(days, title=heading))
    except OSError as error:
        raise InputError(f"cannot write {path}: {error.strerror or error}") from None
    note(f"chart written to {path}")
