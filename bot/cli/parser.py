"""The ``omnicord`` argument parser, built from the command modules.

Only argparse and the standard library are imported here and by the command modules at top
level: a command's own code (and the model SDK it needs) loads after its arguments are parsed,
so ``--help``, ``voices``, ``history``, ``reset`` and ``prepare`` start without paying for what
they do not use.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from omnicord import __version__
from omnicord.cli.arguments import ENV_FILE_HELP
from omnicord.cli.commands import modules


def build_parser() -> argparse.ArgumentParser:
    """The argument parser for every subcommand."""
    parser = argparse.ArgumentParser(
        prog="omnicord",
        description="Qwen-Omni from the command line, and the Omnicord Discord bot.",
    )
    parser.add_argument("--version", action="version", version=f"omnicord {__version__}")
    parser.add_argument("--env-file", type=Path, metavar="PATH", help=ENV_FILE_HELP)
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for module in modules():
        module.add_arguments(commands)
    _env_file_anywhere(commands)
    return parser


def _env_file_anywhere(commands: argparse._SubParsersAction) -> None:
    """Accept ``--env-file`` after any command too (``omnicord doctor --env-file x``)."""
    for command in commands.choices.values():
        command.add_argument("--env-file", type=Path, metavar="PATH", default=argparse.SUPPRESS,
                             help=ENV_FILE_HELP)
        for action in command._actions:
            if isinstance(action, argparse._SubParsersAction):
                _env_file_anywhere(action)
