"""``omnicord run``: the Discord bot with every Omnicord cog, until stopped."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

from omnicord.cli.output import EXIT_OK

if TYPE_CHECKING:
    from omnicord.settings import Settings

NEEDS_MEDIA = True


def add_arguments(commands: argparse._SubParsersAction) -> None:
    """``omnicord run`` (its shard flags are settings: ``arguments.setting_overrides``)."""
    run = commands.add_parser(
        "run", help="start the Discord bot with all cogs",
        description="Start the Discord bot (needs DISCORD_TOKEN) with every Omnicord cog. "
        "Without shard options, one process serves Discord's recommended number of shards.",
    )
    run.add_argument("--shard-count", type=int, metavar="N",
                     help="total shards across every process (default: OMNICORD_SHARD_COUNT, "
                     "else Discord's recommendation)")
    run.add_argument("--shard-ids", metavar="IDS",
                     help="the shards this process serves, such as 0-3 or 0,2,4 (default: "
                     "OMNICORD_SHARD_IDS, else all of them)")


def run(args: argparse.Namespace, settings: Settings) -> int:
    """Run the bot until SIGTERM or SIGINT."""
    token = settings.require_discord_token()
    from omnicord.cogs.runner import run_bot  # imported here: bot/ itself never imports discord

    run_bot(settings, token)
    return EXIT_OK
