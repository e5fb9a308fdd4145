"""``omnicord sync``: sync the slash commands with Discord now, whatever changed or not.

The bot syncs at start-up only when its command tree changed; this forces it, over Discord's
HTTP API only (no gateway connection).
"""

from __future__ import annotations

import argparse
import dataclasses
from typing import TYPE_CHECKING

from omnicord.cli.output import EXIT_OK
from omnicord.setting_values import Secret

if TYPE_CHECKING:
    from omnicord.settings import Settings


def add_arguments(commands: argparse._SubParsersAction) -> None:
    """``omnicord sync``."""
    commands.add_parser(
        "sync", help="sync the slash commands with Discord now",
        description="Sync Omnicord's slash commands with Discord now (needs DISCORD_TOKEN; "
        "HTTP only, no gateway connection) and record them, whether they changed or not. "
        "The bot itself syncs at start-up only when they changed.",
    )


async def run(args: argparse.Namespace, settings: Settings) -> int:
    """Log in, build the tree from every extension, sync it, record its hash, say how many."""
    token = settings.require_discord_token()
    if settings.api_key is None:  # the cogs' runtime wants one; syncing never calls the model
        settings = dataclasses.replace(settings, api_key=Secret("sk-unused-by-omnicord-sync"))
    from omnicord.cogs.runner import sync_now  # bot/ itself never imports discord

    synced, application = await sync_now(settings, token)
    print(f"synced {synced} slash commands for application {application}")
    return EXIT_OK

