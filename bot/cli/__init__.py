"""The ``omnicord`` command line: ask, caption, transcribe, prepare, history, reset, voices,
run, db.

Exit status: 0 success; 2 bad usage or bad input (nothing was sent upstream); 1 the model
service failed. Every failure is one line on stderr, never a traceback.
"""

from __future__ import annotations

import asyncio
import importlib
from collections.abc import Sequence

from omnicord.cli.output import EXIT_INTERRUPTED, EXIT_OK, EXIT_UPSTREAM, EXIT_USAGE, fail, note
from omnicord.cli.parser import ASYNC_COMMANDS, build_parser, setting_overrides
from omnicord.errors import InputError, UpstreamError
from omnicord.model.catalog import find_model
from omnicord.settings import Settings, load_settings


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``omnicord`` console script and ``python -m omnicord``."""
    args = build_parser().parse_args(argv)
    try:
        settings = load_settings(**setting_overrides(args))
        settings.configure_ffmpeg()
        if args.command == "run":
            return _run(settings)
        if args.command == "voices":
            return _voices(settings, args.model)
        module, function = ASYNC_COMMANDS[args.command]
        command = getattr(importlib.import_module(module), function)
        status: int = asyncio.run(command(args, settings))
        return status
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
