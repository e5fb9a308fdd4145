"""The ``omnicord`` command line: init, ask, caption, transcribe, talk, prepare, history, reset,
voices, models, run, db, forget, doctor, sync, usage (one module each in ``omnicord.cli.commands``).

Exit status: 0 success; 2 bad usage or bad input (nothing was sent upstream); 1 the model
service failed (for ``doctor``: a check failed). Every failure is one line on stderr, never a
traceback.
"""

from __future__ import annotations

import argparse
from collections.abc import Coroutine, Sequence
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING, Any

from omnicord.cli.arguments import check_env_file, setting_overrides
from omnicord.cli.commands import command_module
from omnicord.cli.output import EXIT_INTERRUPTED, EXIT_UPSTREAM, EXIT_USAGE, fail, warn
from omnicord.cli.parser import build_parser
from omnicord.errors import InputError, UpstreamError

if TYPE_CHECKING:  # settings load after the arguments parse: --help never pays
    from omnicord.settings import Settings


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``omnicord`` console script and ``python -m omnicord``."""
    args = build_parser().parse_args(argv)
    try:
        return _dispatch(command_module(args.command), args)
    except InputError as error:
        return fail(str(error), EXIT_USAGE)
    except UpstreamError as error:
        return fail(str(error), EXIT_UPSTREAM)
    except KeyboardInterrupt:
        return fail("interrupted", EXIT_INTERRUPTED)


def _dispatch(command: ModuleType, args: argparse.Namespace) -> int:
    """Load the settings (unless the command reads its file itself), check ffmpeg for a
    command that converts media, then run the command (under asyncio when it is async)."""
    if not getattr(command, "LOADS_SETTINGS", True):
        return _finish(command.run(args))
    settings = _load_settings(args, check_env_file(args))
    if getattr(command, "NEEDS_MEDIA", False):  # the others never run ffmpeg
        from omnicord import build

        build.configure_ffmpeg(settings)
    return _finish(command.run(args, settings))


def _finish(result: int | Coroutine[Any, Any, int]) -> int:
    """The exit status, running the command's coroutine first (asyncio loads only then)."""
    if not isinstance(result, Coroutine):
        return result
    import asyncio

    status: int = asyncio.run(result)
    return status


def _load_settings(args: argparse.Namespace, env_file: Path) -> Settings:
    """The settings, after one warning for each OMNICORD_* name no setting reads."""
    from omnicord.settings import load_settings, unknown_settings

    for unknown in unknown_settings(env_file):
        warn(f"{unknown.problem()}; {unknown.hint()}")
    return load_settings(env_file, **setting_overrides(args))
