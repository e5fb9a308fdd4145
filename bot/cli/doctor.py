"""``omnicord doctor [--offline]``: check what a new operator gets wrong, one line per check.

Settings, ffmpeg and the database are checked offline; the model service (one tiny text
request) and Discord (token, Message Content intent, permissions in each server) online.
Exit status 0 when no check failed, 1 otherwise. Nothing is created, migrated or changed.
"""

from __future__ import annotations

import argparse
import asyncio
from collections.abc import Iterable
from pathlib import Path

from omnicord.checks import FAIL, OK, SKIP, Check
from omnicord.cli.output import EXIT_OK, EXIT_UPSTREAM
from omnicord.errors import ConfigError
from omnicord.secrets import redact
from omnicord.settings import ENV_FILE, Settings, load_settings

ONLINE_SUBJECTS = ("model service", "Discord")


def run_doctor(args: argparse.Namespace) -> int:
    """Run every check, print one line each, and return the exit status."""
    report = Report()
    settings = report.add(*check_settings())
    if settings is None:
        report.show(Check(SKIP, subject, "not checked: the settings did not load")
                    for subject in ("ffmpeg", "database", *ONLINE_SUBJECTS))
        return report.status
    from omnicord.cli.doctor_local import check_database, check_ffmpeg

    report.show(check_ffmpeg(settings))
    report.show(asyncio.run(check_database(settings)))
    if args.offline:
        report.show(Check(SKIP, subject, "not checked (--offline)")
                    for subject in ONLINE_SUBJECTS)
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


def check_settings() -> tuple[Check, Settings | None]:
    """Load the settings; say where they came from, or which one is wrong."""
    env_file = ENV_FILE.resolve() if ENV_FILE.is_file() else None
    source = (f"read {env_file} and the environment" if env_file
              else f"no .env in {Path.cwd()}, so from the environment only")
    try:
        settings = load_settings()
    except ConfigError as error:
        where = f"{env_file} or the environment" if env_file else "the environment or a .env"
        return Check(FAIL, "settings", str(error),
                     f"fix it in {where} (.env.example lists every setting)"), None
    return Check(OK, "settings", source), settings


async def _online_checks(settings: Settings) -> list[Check]:
    from omnicord.cli.doctor_service import check_discord, check_model_service

    return [*await check_model_service(settings), *await check_discord(settings)]
