"""``omnicord forget USER_ID``: an operator erases everything kept about a Discord user, as the
member's own ``/omni forget me`` does."""

from __future__ import annotations

import argparse
import sys
from typing import TYPE_CHECKING

from omnicord import build
from omnicord.cli.arguments import discord_id
from omnicord.cli.output import EXIT_OK, note
from omnicord.errors import InputError

if TYPE_CHECKING:
    from omnicord.settings import Settings


def add_arguments(commands: argparse._SubParsersAction) -> None:
    """``omnicord forget``."""
    forget = commands.add_parser(
        "forget", help="erase everything kept about a Discord user",
        description="Erase everything OMNICORD_DB keeps about a Discord user, in every server "
        "and DM: the turns they spoke (with the replies to them), their DM conversation, "
        "their preferences and their usage, with their cached media. Asks for confirmation "
        "unless --yes is given.",
    )
    forget.add_argument("user_id", metavar="USER_ID", help="the user's Discord id (digits)")
    forget.add_argument("--yes", "-y", action="store_true",
                        help="do not ask for confirmation")


async def run(args: argparse.Namespace, settings: Settings) -> int:
    """Confirm, then erase the user's turns, DMs, preferences, usage and cached media."""
    user_id = discord_id(args.user_id, "USER_ID")
    if not args.yes:
        _confirm(user_id)
    async with build.open_store(settings, pool_size=1) as store:
        removed = await build.privacy(settings, store).forget_member(user_id)
    note(f"forgot user {user_id}: {removed.turns:,} turns, {removed.preferences:,} preference "
         f"rows, {removed.usage:,} usage rows, {len(removed.released_media):,} cached "
         "attachments")
    return EXIT_OK


def _confirm(user_id: str) -> None:
    """Ask on the terminal; InputError (nothing erased) unless the answer is yes."""
    if not sys.stdin.isatty():
        raise InputError("forget erases data for good: confirm with --yes")
    try:
        answer = input(f"Erase everything kept about Discord user {user_id}, in every server "
                       "and DM? This cannot be undone. [y/N] ")
    except EOFError:
        answer = ""
    if answer.strip().lower() not in ("y", "yes"):
        raise InputError("not confirmed: nothing was erased")
