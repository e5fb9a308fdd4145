"""The log of a running bot: stderr, and optionally a rotated file (OMNICORD_LOG_FILE).

``omnicord`` loggers log at the chosen level (OMNICORD_LOG_LEVEL); the libraries underneath
(discord.py, the model SDK, HTTP clients) only from WARNING, unless the level is DEBUG. Every
record is masked by ``omnicord.secrets`` before a handler sees it.
"""

from __future__ import annotations

import logging
import logging.handlers
import sys
from pathlib import Path
from typing import TextIO

from omnicord.errors import ConfigError

FORMAT = "%(asctime)s %(levelname)-8s %(name)s: %(message)s"
#: A log file is rotated at this size, keeping this many old files (``omnicord.log.1`` …).
MAX_BYTES = 10 * 1024 * 1024
BACKUPS = 5
_OURS = "_omnicord_handler"  # marks handlers installed here, so configuring again replaces them


def configure_logging(
    level: str, file: Path | None = None, *, max_bytes: int = MAX_BYTES,
    backups: int = BACKUPS, stream: TextIO | None = None,
) -> list[logging.Handler]:
    """Log ``omnicord`` at ``level`` to stderr (or ``stream``) and to ``file`` if given;
    the handlers installed. ConfigError naming OMNICORD_LOG_FILE if the file cannot be opened."""
    handlers: list[logging.Handler] = [logging.StreamHandler(stream or sys.stderr)]
    if file is not None:
        handlers.append(_file_handler(file, max_bytes, backups))
    root = logging.getLogger()
    for old in [h for h in root.handlers if getattr(h, _OURS, False)]:
        root.removeHandler(old)
        old.close()
    formatter = logging.Formatter(FORMAT)
    for handler in handlers:
        handler.setFormatter(formatter)
        setattr(handler, _OURS, True)
        root.addHandler(handler)
    numeric = logging.getLevelName(level)
    root.setLevel(numeric if numeric == logging.DEBUG else max(numeric, logging.WARNING))
    logging.getLogger("omnicord").setLevel(numeric)
    return handlers


def _file_handler(file: Path, max_bytes: int, backups: int) -> logging.Handler:
    try:
        file.parent.mkdir(parents=True, exist_ok=True)
        return logging.handlers.RotatingFileHandler(file, maxBytes=max_bytes,
                                                    backupCount=backups, encoding="utf-8")
    except OSError as error:
        raise ConfigError(f"OMNICORD_LOG_FILE: cannot write {file}: "
                          f"{error.strerror or error}") from None
