"""The ``omnicord`` command line: init, ask, caption, transcribe, prepare, history, reset,
voices, run, db, forget, sync, usage, doctor.

Exit status: 0 success; 2 bad usage or bad input (nothing was sent upstream); 1 the model
service failed (for ``doctor``: a check failed). Every failure is one line on stderr, never a
traceback.
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from omnicord.cli.output import (
    EXIT_INTERRUPTED,
    EXIT_OK,
    EXIT_UPSTREAM,
    EXIT_USAGE,
    fail,
    note,
    warn,
)
from omnicord.cli.parser import (
    ASYNC_COMMANDS,
    build_parser,
    check_env_file,
    env_file_of,
    setting_overrides,
)
from omnicord.errors import InputError, UpstreamError

#: Commands that convert media, so need OMNICORD_FFMPEG checked first.
MEDIA_COMMANDS = frozenset({"ask", "caption", "transcribe", "prepare", "run"})

if TYPE_CHECKING:  # settings (pydantic) load after the arguments parse: --help never pays
    from omnicord.settings import Settings


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``omnicord`` console script and ``python -m omnicord``."""
    args = build_parser().parse_args(argv)
    try:
        if args.command == "init":  # writes the settings file, so reads none
            from omnicord.cli.init import run_init

            return run_init(env_file_of(args))
        env_file = check_env_file(args)
        if args.command == "doctor":  # loads the settings itself: a bad one is a FAIL line
            from omnicord.cli.doctor import run_doctor

            return run_doctor(args, env_file)
        settings = _load_settings(args, env_file)
        if args.command == "voices":  # no media: ffmpeg (and asyncio) need not load
            return _voices(settings, args.model)
        if args.command in MEDIA_COMMANDS:  # the others never run ffmpeg
            settings.configure_ffmpeg()
        if args.command == "run":
            return _run(settings)
        return _run_async(args, settings)
    except InputError as error:
        return fail(str(error), EXIT_USAGE)
    except UpstreamError as error:
        return fail(str(error), EXIT_UPSTREAM)
    except KeyboardInterrupt:
        return fail("interrupted", EXIT_INTERRUPTED)


def _load_settings(args: argparse.Namespace, env_file: Path) -> Settings:
    """The settings, after one warning for each OMNICORD_* name no setting reads."""
    from omnicord.settings import load_settings, unknown_settings

    for unknown in unknown_settings(env_file):
        warn(f"{unknown.problem()}; {unknown.hint()}")
    return load_settings(env_file, **setting_overrides(args))


def _run_async(args: argparse.Namespace, settings: Settings) -> int:
    """Run the command's coroutine (its module, and asyncio, load only now)."""
    import asyncio
    import importlib

    module, function = ASYNC_COMMANDS[args.command]
    command = getattr(importlib.import_module(module), function)
    status: int = asyncio.run(command(args, settings))
    return status


def _voices(settings: Settings, model_name: str | None) -> int:
    from omnicord.model.catalog import find_model

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
