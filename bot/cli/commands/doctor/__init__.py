"""``omnicord doctor [--offline]``: check what a new operator gets wrong, one line per check.

Settings, ffmpeg and the database are checked offline (``local``); the model service (one tiny
text request) and Discord (token, Message Content intent, permissions in each server) online
(``service``). Exit status 0 when no check failed, 1 otherwise. Nothing is created, migrated
or changed. The whole command lives in this package.
"""

from __future__ import annotations

import argparse
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING

from omnicord.checks import FAIL, NOTE, OK, SKIP, Check
from omnicord.cli.arguments import DEFAULT_ENV_FILE, check_env_file
from omnicord.cli.commands.doctor.models import check_models_file
from omnicord.cli.output import EXIT_OK, EXIT_UPSTREAM
from omnicord.errors import ConfigError
from omnicord.secrets import redact

if TYPE_CHECKING:
    from omnicord.settings import Settings

#: It loads the settings itself: a bad one is a FAIL line, not an error.
LOADS_SETTINGS = False
ONLINE_SUBJECTS = ("model service", "Discord")


def add_arguments(commands: argparse._SubParsersAction) -> None:
    """``omnicord doctor``."""
    doctor = commands.add_parser(
        "doctor", help="check the settings, ffmpeg, database, model service and Discord",
        description="Check everything Omnicord needs, one line per check with how to fix what "
        "fails: settings, ffmpeg and its codecs, the database, then (unless --offline) the "
        "model service with this key and base URL, and Discord: the token, the Message "
        "Content intent and the bot's permissions in each server. Changes nothing. Exit "
        "status 0 when no check failed, else 1.",
    )
    doctor.add_argument("--offline", action="store_true",
                        help="check only the settings, ffmpeg and the database")


def run(args: argparse.Namespace) -> int:
    """Run every check on the settings ``--env-file`` names (InputError if it names none),
    print one line each, and return the exit status."""
    import asyncio

    env_file = check_env_file(args)
    report = Report()
    settings = report.add(*check_settings(env_file))
    report.show(check_models_file(env_file, settings))
    report.show(check_unknown_names(env_file))
    if settings is None:
        report.show(Check(SKIP, subject, "not checked: the settings did not load")
                    for subject in ("ffmpeg", "database", *ONLINE_SUBJECTS))
        return report.status
    from omnicord.cli.commands.doctor.local import check_database, check_ffmpeg

    report.show(check_ffmpeg(settings))
    report.show(asyncio.run(check_database(settings)))
    if args.offline:
        report.show(offline_credentials(settings, env_file))
    else:
        report.show(asyncio.run(_online_checks(settings)))
    return report.status


class Report:
    """Prints checks as they come and remembers whether one failed."""

    def __init__(self) -> None:
        self.failed = False

    @property
    def status(self) -> int:
        """The exit status so far."""
        return EXIT_UPSTREAM if self.failed else EXIT_OK

    def show(self, checks: Iterable[Check]) -> None:
        """Print each check's line (secrets masked)."""
        for check in checks:
            self.failed = self.failed or check.failed
            print(redact(check.line()), flush=True)

    def add(self, check: Check, settings: Settings | None) -> Settings | None:
        """Print one check and pass its settings on."""
        self.show([check])
        return settings


def check_settings(env_file: Path = DEFAULT_ENV_FILE) -> tuple[Check, Settings | None]:
    """Load the settings; say where they came from, or which one is wrong."""
    from omnicord.model.models_file import ModelsFileError
    from omnicord.settings import load_settings

    found = env_file.resolve() if env_file.is_file() else None
    source = (f"read {found} and the environment" if found
              else f"no .env in {Path.cwd()}, so from the environment only")
    try:
        settings = load_settings(env_file)
    except ConfigError as error:
        if isinstance(error, ModelsFileError):  # its mistakes follow, a line each
            count = len(error.problems)
            return Check(FAIL, "settings", f"OMNICORD_MODELS_FILE: {count} mistake"
                         f"{'s' if count > 1 else ''} in the models file (below)"), None
        where = f"{found} or the environment" if found else "the environment or a .env"
        return Check(FAIL, "settings", str(error),
                     f"fix it in {where} (.env.example lists every setting)"), None
    return Check(OK, "settings", source), settings


def check_unknown_names(env_file: Path = DEFAULT_ENV_FILE) -> list[Check]:
    """A note for each OMNICORD_* name no setting reads (a typo, most likely)."""
    from omnicord.settings import unknown_settings

    try:
        unknown = unknown_settings(env_file)
    except ConfigError:  # an unreadable env file: the settings line said so
        return []
    return [Check(NOTE, "settings", name.problem(), name.hint()) for name in unknown]


def offline_credentials(settings: Settings, env_file: Path = DEFAULT_ENV_FILE) -> list[Check]:
    """Without the network: a FAIL for a missing key or token (how to set it), else skip."""
    where = f"{env_file} or the environment" if env_file.is_file() else (
        f"{env_file} (`omnicord init` writes one) or the environment")
    checks = [Check(SKIP, subject, "not checked (--offline)") for subject in ONLINE_SUBJECTS]
    if settings.api_key is None:
        checks[0] = Check(FAIL, "model service", "DASHSCOPE_API_KEY is not set", "put your "
                          f"Model Studio API key in {where}; or set DASHSCOPE_API_KEY_FILE to "
                          "a file holding it")
    if settings.discord_token is None:
        checks[1] = Check(FAIL, "Discord", "DISCORD_TOKEN is not set: needed for `omnicord "
                          "run`", "put the bot token from the developer portal (Bot → Reset "
                          f"Token) in {where}; or set DISCORD_TOKEN_FILE to a file holding it")
    return checks


async def _online_checks(settings: Settings) -> list[Check]:
    from omnicord.cli.commands.doctor.service import check_discord, check_model_service

    return [*await check_model_service(settings), *await check_discord(settings)]
