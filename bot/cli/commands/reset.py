"""``omnicord reset``: clear a conversation kept with ``ask --session``."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

from omnicord import build
from omnicord.cli.output import EXIT_OK, note
from omnicord.cli.sessions import scope_of

if TYPE_CHECKING:
    from omnicord.settings import Settings


def add_arguments(commands: argparse._SubParsersAction) -> None:
    """``omnicord reset``."""
    reset = commands.add_parser(
        "reset", help="clear a conversation kept with ask --session",
        description="Delete every turn of a named conversation from OMNICORD_DB.",
    )
    reset.add_argument("name", metavar="NAME", help="the session name")


async def run(args: argparse.Namespace, settings: Settings) -> int:
    """Clear the conversation."""
    async with build.open_store(settings, pool_size=1) as store:
        removed = await store.reset(scope_of(args.name))
    note(f"cleared {removed} turns from session {args.name!r}")
    return EXIT_OK
