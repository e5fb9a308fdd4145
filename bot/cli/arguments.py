"""What several commands' arguments share: the settings file (``--env-file``), Discord ids,
and settings given as flags."""

from __future__ import annotations

import argparse
import re
from pathlib import Path

from omnicord.errors import InputError

DEFAULT_ENV_FILE = Path(".env")
ENV_FILE_HELP = ("read settings from this file (default: .env in the working folder); for "
                 "init, the file to write")
#: A Discord id (a snowflake, below 2**64): ASCII digits only, as ``str.isdigit`` also takes
#: other scripts' digits (full-width １２３ among them), and no leading zero.
_DISCORD_ID = re.compile(r"[1-9][0-9]{0,19}")


def discord_id(text: str, name: str) -> str:
    """``text`` (stripped) if it is a Discord id, else an InputError naming ``name``."""
    given = text.strip()
    if _DISCORD_ID.fullmatch(given) is None or int(given) >= 2**64:
        raise InputError(f"{name} must be a Discord id (digits only: 0-9, at most 20), not "
                         f"{given!r}")
    return given


def env_file_of(args: argparse.Namespace) -> Path:
    """The settings file to read (or, for ``init``, to write)."""
    given: Path | None = getattr(args, "env_file", None)
    return given or DEFAULT_ENV_FILE


def check_env_file(args: argparse.Namespace) -> Path:
    """The settings file to read; InputError if ``--env-file`` names none."""
    path = env_file_of(args)
    if getattr(args, "env_file", None) is not None and not path.is_file():
        problem = "is not a file" if path.exists() else "does not exist"
        raise InputError(f"--env-file {path} {problem}")
    return path


def setting_overrides(args: argparse.Namespace) -> dict[str, object]:
    """Settings given as command-line flags, by their environment names."""
    overrides: dict[str, object] = {}
    if getattr(args, "shard_count", None) is not None:
        overrides["OMNICORD_SHARD_COUNT"] = args.shard_count
    if getattr(args, "shard_ids", None) is not None:
        overrides["OMNICORD_SHARD_IDS"] = args.shard_ids
    return overrides
