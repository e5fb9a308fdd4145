"""The doctor's offline checks: which ffmpeg and what it can do, and the database's state."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

from omnicord import build
from omnicord.checks import FAIL, NOTE, OK, Check
from omnicord.errors import ConfigError
from omnicord.media.codecs import Capabilities, inspect_ffmpeg
from omnicord.secrets import mask_url
from omnicord.settings import Settings

MIGRATE = "run `omnicord db migrate`"


def check_ffmpeg(settings: Settings) -> list[Check]:
    """Which ffmpeg Omnicord will use, and whether it has every codec the pipeline needs."""
    from omnicord.media.ffmpeg import ffmpeg_exe

    try:
        build.configure_ffmpeg(settings)
        exe = ffmpeg_exe()
    except ConfigError as error:
        return [Check(FAIL, "ffmpeg", str(error), "point OMNICORD_FFMPEG at an ffmpeg binary, "
                      "or unset it to use the imageio-ffmpeg wheel's")]
    except (ImportError, RuntimeError, OSError):
        return [Check(FAIL, "ffmpeg", "no ffmpeg found", "install ffmpeg, or reinstall "
                      "Omnicord with its imageio-ffmpeg dependency")]
    try:
        capabilities = inspect_ffmpeg(exe)
    except (OSError, subprocess.SubprocessError):
        return [Check(FAIL, "ffmpeg", f"{exe} does not run", "point OMNICORD_FFMPEG at a "
                      "working ffmpeg, or unset it")]
    return [ffmpeg_verdict(_origin(settings, exe), exe, capabilities)]


def ffmpeg_verdict(origin: str, exe: str, capabilities: Capabilities) -> Check:
    """``ok`` naming the build and its key encoders, or ``FAIL`` naming what it lacks."""
    missing = [*capabilities.missing_encoders(),
               *(f"{label} decoder" for label in capabilities.missing_decoders())]
    build = f"ffmpeg {capabilities.version} from {origin}: {exe}"
    if not missing:
        return Check(OK, "ffmpeg", f"{build} (libopus, libmp3lame, libx264 and the decoders "
                     "for what members post)")
    fix = ("unset OMNICORD_FFMPEG to use the imageio-ffmpeg wheel's build, which has them"
           if origin == "OMNICORD_FFMPEG" else "install an ffmpeg built with them and point "
           "OMNICORD_FFMPEG at it")
    return Check(FAIL, "ffmpeg", f"{build} lacks {', '.join(missing)}", fix)


def _origin(settings: Settings, exe: str) -> str:
    """Where the ffmpeg in use came from (and why not the system's, when there is one)."""
    if settings.ffmpeg:
        return "OMNICORD_FFMPEG"
    system = shutil.which("ffmpeg")
    if system is None:
        return "the imageio-ffmpeg wheel (no ffmpeg on PATH)"
    if os.path.samefile(system, exe):
        return "the system"
    try:
        lacks = ", ".join(inspect_ffmpeg(system).missing_encoders()) or "a needed encoder"
    except (OSError, subprocess.SubprocessError):
        lacks = "a working run"
    return f"the imageio-ffmpeg wheel (the system's {system} lacks {lacks})"


async def check_database(settings: Settings) -> list[Check]:
    """Whether OMNICORD_DB opens and is migrated; nothing is created or migrated."""
    name = mask_url(settings.database)
    if not settings.uses_postgresql and not settings.db_path.exists():
        return [_missing_sqlite(settings.db_path)]
    try:
        async with build.open_store(settings, pool_size=1, migrate=False) as store:
            version = await store.schema_version()
            pending = await store.pending_migrations()
            backend = store.backend
    except ConfigError as error:
        return [Check(FAIL, "database", str(error), "check OMNICORD_DB, and that this machine "
                      "can reach and use the database")]
    where = f"{backend} {name}, schema version {version}"
    if version > (latest := _latest_migration(backend)):
        return [Check(FAIL, "database", f"{where} is newer than this Omnicord's ({latest})",
                      "upgrade Omnicord to the release that migrated this database")]
    if pending:
        return [Check(NOTE, "database", f"{where}, pending migrations {', '.join(pending)}",
                      f"the bot applies them at start-up; to apply them now, {MIGRATE}")]
    return [Check(OK, "database", f"{where}, up to date")]


def _latest_migration(backend: str) -> int:
    """The newest schema version this Omnicord ships for a backend."""
    if backend == "postgresql":
        from omnicord.store.postgres.migrate import load_migrations
    else:
        from omnicord.store.sqlite.migrate import load_migrations
    return max(migration.version for migration in load_migrations())


def _missing_sqlite(path: Path) -> Check:
    folder = next((p for p in path.absolute().parents if p.exists()), Path("/"))
    if not folder.is_dir():
        return Check(FAIL, "database", f"no database at {path}, and {folder} is not a folder",
                     "point OMNICORD_DB at a file in a folder")
    if not os.access(folder, os.W_OK | os.X_OK):
        return Check(FAIL, "database", f"no database at {path}, and {folder} is not writable",
                     "point OMNICORD_DB at a writable folder, or fix the folder's owner")
    return Check(NOTE, "database", f"no database at {path} yet",
                 f"the bot creates and migrates it at start-up; to create it now, {MIGRATE}")
