"""``omnicord history`` and ``omnicord reset``: reading and clearing a named conversation."""

from __future__ import annotations

import argparse

from omnicord.cli.output import EXIT_OK, note
from omnicord.conversation.export import export_json, export_markdown
from omnicord.settings import Settings
from omnicord.store import open_store


def scope_of(name: str) -> str:
    """The store scope of a command-line session."""
    return f"cli:{name}"


async def run_history(args: argparse.Namespace, settings: Settings) -> int:
    """Print the conversation."""
    async with open_store(settings.database, pool_size=1) as store:
        turns = await store.history(scope_of(args.name))
    export = export_json if args.format == "json" else export_markdown
    print(export(args.name, turns), end="")
    return EXIT_OK


async def run_reset(args: argparse.Namespace, settings: Settings) -> int:
    """Clear the conversation."""
    async with open_store(settings.database, pool_size=1) as store:
        removed = await store.reset(scope_of(args.name))
    note(f"cleared {removed} turns from session {args.name!r}")
    return EXIT_OK
