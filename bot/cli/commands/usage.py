"""``omnicord usage``: tokens and cost per UTC day for an operator, for the whole bot or one
server or member, as a table and optionally a PNG chart."""

from __future__ import annotations

import argparse
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING

from omnicord import build
from omnicord.cli.arguments import discord_id
from omnicord.cli.output import EXIT_OK, note
from omnicord.errors import InputError

if TYPE_CHECKING:
    from omnicord.policy.usage import DayTotals, UsageTotals
    from omnicord.settings import Settings

#: What the chart says when there is no database yet.
NO_DATABASE = "No usage yet: there is no database yet"


def add_arguments(commands: argparse._SubParsersAction) -> None:
    """``omnicord usage``."""
    usage = commands.add_parser(
        "usage", help="tokens and cost per day, for the whole bot or one server or member",
        description="Print the tokens used each UTC day (in, out, and the cost where prices "
        "are known) and their total, for the whole bot unless --guild or --member narrows it; "
        "with --png, also draw them as a bar chart.",
    )
    usage.add_argument("--days", type=int, default=30, metavar="N",
                       help="the last N days, today included (default: 30; at most 366)")
    usage.add_argument("--guild", metavar="ID", help="only this server's usage (its id)")
    usage.add_argument("--member", metavar="ID", help="only this member's usage (their id)")
    usage.add_argument("--png", type=Path, metavar="PATH",
                       help="also write the chart as a PNG image to PATH")


async def run(args: argparse.Namespace, settings: Settings) -> int:
    """Print the daily table and totals; write the chart with ``--png`` (an empty one, saying
    so, when there is no database yet: nothing is created but the chart)."""
    from omnicord.policy.usage import DayTotals, UsageTotals, last_days

    for flag, given in (("--guild", args.guild), ("--member", args.member)):
        if given is not None:
            discord_id(given, flag)
    wanted = last_days(args.days)  # InputError for a bad count, before opening anything
    if args.png is not None and not args.png.resolve().parent.is_dir():
        raise InputError(f"cannot write {args.png}: its folder does not exist")
    heading = title(args.guild, args.member)
    if not settings.uses_postgresql and not settings.db_path.exists():
        note(f"there is no database at {settings.db_path} yet: no usage to show")
        if args.png is not None:
            nothing = [DayTotals(day, UsageTotals(cost=0.0)) for day in wanted]
            _write_chart(args.png, nothing, heading, empty=NO_DATABASE)
        return EXIT_OK
    async with build.open_store(settings, pool_size=1) as store:
        ledger = build.usage_ledger(settings, store)
        days = await ledger.daily(days=args.days, user_id=args.member, guild_id=args.guild)
    _print_report(days)
    if args.png is not None:
        _write_chart(args.png, days, heading)
    return EXIT_OK


def _print_report(days: list[DayTotals]) -> None:
    """The daily table, a table per model when several were used, and (once, on stderr) how
    to give the prices that are missing."""
    from omnicord.policy.usage import per_model, price_hint, unpriced

    print(table(days))
    models = per_model(days)
    if len(models) > 1:
        print()
        print(model_table(models))
    hint = price_hint(unpriced(models))
    if hint:
        note(hint)


def title(guild: str | None, member: str | None) -> str:
    """Whose usage the chart shows."""
    if member and guild:
        return f"Omnicord usage: member {member} in server {guild}"
    if member or guild:
        return f"Omnicord usage: {'member' if member else 'server'} {member or guild}"
    return "Omnicord usage: the whole bot"


def table(days: list[DayTotals]) -> str:
    """One line per day (date, tokens in, tokens out, cost), then the total."""
    from omnicord.policy.usage import overall

    return _columns("date", [(day.day, day.totals) for day in days]
                    + [("total", overall(days))])


def model_table(models: Mapping[str, UsageTotals]) -> str:
    """One line per model (name, tokens in, tokens out, cost) over the whole period."""
    return _columns("model", list(models.items()))


def _columns(heading: str, rows: list[tuple[str, UsageTotals]]) -> str:
    from omnicord.policy.usage import money

    width = max(len(heading), *(len(name) for name, _ in rows))
    lines = [f"{heading:<{width}}  {'tokens in':>12}  {'tokens out':>12}  {'cost':>12}"]
    for name, totals in rows:
        cost = "—" if totals.cost is None else money(totals.cost)
        lines.append(f"{name:<{width}}  {totals.prompt_tokens:>12,}  "
                     f"{totals.completion_tokens:>12,}  {cost:>12}")
    return "\n".join(lines)


def _write_chart(path: Path, days: list[DayTotals], heading: str,
                 empty: str | None = None) -> None:
    from omnicord.files import write_private
    from omnicord.policy.usage_chart import render_usage_chart  # Pillow, only when asked

    try:
        write_private(path, render_usage_chart(days, title=heading, empty=empty))
    except OSError as error:
        raise InputError(f"cannot write {path}: {error.strerror or error}") from None
    note(f"chart written to {path}")
