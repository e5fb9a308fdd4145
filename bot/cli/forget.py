"""``omnicord forget USER_ID``: an operator erases everything kept about a Discord user, as the
member's own ``/omni forget me`` does."""

from __future__ import annotations

import argparse
import sys

from omnicord.cli.output import EXIT_OK, note
from omnicord.cli.parser import discord_id
from omnicord.conversation.privacy import Privacy
from omnicord.errors import InputError
from omnicord.settings import Settings
from omnicord.store import open_store


async def run(args: argparse.Namespace, settings: Settings) -> int:
    """Confirm, then erase the user's turns, DMs, preferences, usage and cached media."""
    user_id = discord_id(args.user_id, "USER_ID")
    if not args.yes:
        _confirm(user_id)
    async with open_store(settings.database, pool_size=1) as store:
        removed = await Privacy(store, settings.media_cache()).forget_member(user_id)
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
