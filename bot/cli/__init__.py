"""The ``omnicord`` command line: ask, caption, prepare, history, reset, voices, run.

Exit status: 0 success; 2 bad usage or bad input (nothing was sent upstream); 1 the model
service failed. Every failure is one line on stderr, never a traceback.
"""

from __future__ import annotations

import argparse
import asyncio
from collections.abc import Sequence

from omnicord import __version__
from omnicord.cli import ask, history, media
from omnicord.cli.output import EXIT_INTERRUPTED, EXIT_OK, EXIT_UPSTREAM, EXIT_USAGE, fail, note
from omnicord.errors import InputError, UpstreamError
from omnicord.model.catalog import find_model
from omnicord.settings import Settings, load_settings

_ASYNC_COMMANDS = {
    "ask": ask.run,
    "caption": media.run_caption,
    "prepare": media.run_prepare,
    "history": history.run_history,
    "reset": history.run_reset,
}


def build_parser() -> argparse.ArgumentParser:
    """The argument parser for every subcommand."""
    parser = argparse.ArgumentParser(
        prog="omnicord",
        description="Qwen-Omni from the command line, and the Omnicord Discord bot.",
    )
    parser.add_argument("--version", action="version", version=f"omnicord {__version__}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    ask.add_parser(commands)
    media.add_parsers(commands)
    history.add_parsers(commands)
    voices = commands.add_parser(
        "voices", help="list the voices of a model", description="List a model's voices."
    )
    voices.add_argument("--model", "-m", help="chat model (default: OMNICORD_MODEL)")
    commands.add_parser(
        "run", help="start the Discord bot with all cogs",
        description="Start the Discord bot (needs DISCORD_TOKEN) with every Omnicord cog.",
    )
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``omnicord`` console script and ``python -m bot``."""
    args = build_parser().parse_args(argv)
    try:
        settings = load_settings()
        settings.configure_ffmpeg()
        if args.command == "run":
            return _run(settings)
        if args.command == "voices":
            return _voices(settings, args.model)
        return asyncio.run(_ASYNC_COMMANDS[args.command](args, settings))
    except InputError as error:
        return fail(str(error), EXIT_USAGE)
    except UpstreamError as error:
        return fail(str(error), EXIT_UPSTREAM)
    except KeyboardInterrupt:
        return fail("interrupted", EXIT_INTERRUPTED)


def _voices(settings: Settings, model_name: str | None) -> int:
    model = find_model(model_name or settings.model, "chat")
    if not model.voices:
        note(f"{model.name} does not speak")
    for voice in model.voices:
        print(f"{voice.name}\t{voice.note}" if voice.note else voice.name)
    return EXIT_OK


def _run(settings: Settings) -> int:
    token = settings.require_discord_token()
    from omnicord.cogs.runner import run_bot  # imported here: bot/ itself never imports discord

    run_bot(settings, token)
    return EXIT_OK
