"""Files that hold members' data (the database, backups, the media cache, exports, charts):
readable by the account Omnicord runs as, and nobody else, whatever the umask."""

from __future__ import annotations

import contextlib
import logging
import os
import stat
import tempfile
from pathlib import Path

PRIVATE_FILE = 0o600
PRIVATE_FOLDER = 0o700
_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)
#: The files SQLite keeps beside a database, which it creates with the database file's mode.
SQLITE_COMPANIONS = ("-wal", "-shm", "-journal")

log = logging.getLogger("omnicord.files")


def private_folder(folder: Path) -> None:
    """Create ``folder`` and any missing parents, each 0700; folders already there are left as
    they are."""
    if folder.is_dir():
        return
    if folder.parent != folder:
        private_folder(folder.parent)
    try:
        os.mkdir(folder, PRIVATE_FOLDER)
    except FileExistsError:
        if not folder.is_dir():
            raise
        return
    os.chmod(folder, PRIVATE_FOLDER)  # the umask may have taken more than group and world


def create_private(path: Path) -> int:
    """A new file at ``path``, 0600, opened for writing: FileExistsError if anything is there,
    a dangling symbolic link included, so nothing is ever written through a link."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | _NOFOLLOW, PRIVATE_FILE)
    os.fchmod(fd, PRIVATE_FILE)
    return fd


def write_private(path: Path, data: bytes) -> None:
    """Write ``path`` whole, 0600: a new file renamed over whatever was there (a link is
    replaced, never written through)."""
    fd, partial = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as out:
            out.write(data)
        os.replace(partial, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(partial)
        raise


def tighten(path: Path) -> bool:
    """Take group and world access away from an existing file; whether it had any."""
    try:
        mode = stat.S_IMODE(os.stat(path).st_mode)
    except FileNotFoundError:
        return False
    if not mode & 0o077:
        return False
    os.chmod(path, mode & PRIVATE_FOLDER & ~stat.S_IXUSR)
    return True


#: The first bytes of every SQLite database file.
SQLITE_HEADER = b"SQLite format 3\x00"


def is_sqlite_file(path: Path) -> bool:
    """Whether ``path`` is a regular file holding a SQLite database (never follows a link to
    decide: a link is not ours to change)."""
    try:
        if not stat.S_ISREG(os.lstat(path).st_mode):
            return False
        with open(path, "rb") as file:
            return file.read(len(SQLITE_HEADER)) == SQLITE_HEADER
    except OSError:
        return False


def private_database(path: Path) -> None:
    """Make a SQLite database file private before SQLite opens it: create its folder (0700)
    and the file (0600) when missing, and tighten an existing database readable by others,
    with its ``-wal``, ``-shm`` and ``-journal`` (logged once). Anything at ``path`` that is not
    a SQLite database (a folder, someone's notes) is left exactly as it is: opening it fails
    with its own clear line."""
    private_folder(path.parent)
    with contextlib.suppress(FileExistsError):
        os.close(create_private(path))
    if os.path.getsize(path) and not is_sqlite_file(path):
        return
    paths = [path, *(path.with_name(path.name + suffix) for suffix in SQLITE_COMPANIONS)]
    try:
        tightened = [str(p) for p in paths if tighten(p)]
    except OSError as error:  # not ours to change: the database still works
        log.warning("cannot make %s private (%s): it stays readable by other accounts",
                    path, error.strerror or error)
        return
    if tightened:
        log.warning("%s could be read by other accounts: made owner-only (0600)",
                    ", ".join(tightened))
