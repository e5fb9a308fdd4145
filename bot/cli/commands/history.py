"""``omnicord history``: print a conversation kept with ``ask --session``."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

from omnicord import build
from omnicord.cli.output import EXIT_OK
from omnicord.cli.sessions import scope_of

if TYPE_CHECKING:
    from omnicord.settings import Settings


def add_arguments(commands: argparse._SubParsersAction) -> None:
    """``omnicord history``."""
    history = commands.add_parser(
        "history", help="show a conversation kept with ask --session",
        description="Print a named conversation from OMNICORD_DB as Markdown or JSON.",
    )
    history.add_argument("name", metavar="NAME", help="the session name")
    history.add_argument("--format", "-f", choices=("md", "json"), default="md",
                         help="Markdown (default) or JSON")


async def run(args: argparse.Namespace, settings: Settings) -> int:
    """Print the conversation."""
    from omnicord.conversation.export import export_json, export_markdown

    async with build.open_store(settings, pool_size=1) as store:
        turns = await store.history(scope_of(args.name))
    export = export_json if args.format == "json" else export_markdown
    print(export(args.name, turns), end="")
    return EXIT_OK
