"""The log of a running bot: stderr, and optionally a rotated file (OMNICORD_LOG_FILE).

``omnicord`` loggers log at the chosen level (OMNICORD_LOG_LEVEL); the libraries underneath
(discord.py, the model SDK, HTTP clients) only from WARNING, unless the level is DEBUG. Secrets
are masked in every line these handlers write (``MaskingFormatter``), and in any record that
holds one before a handler sees it (``omnicord.secrets``).

No content reaches these handlers: Omnicord's own lines never carry it (members appear by
pseudonym at INFO and above, see ``omnicord.pseudonyms``), and ``OmitPayloads`` reduces the
libraries' chatter below WARNING (gateway events, REST bodies, the SDK's request options) to
its shape. Only Omnicord's handlers are touched: a host bot's own see every record unchanged.
"""

from __future__ import annotations

import contextlib
import logging
import logging.handlers
import os
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any, TextIO

from omnicord.errors import ConfigError
from omnicord.secrets import redact

#: ``safe_message``: the record's message as ``OmitPayloads`` left it.
FORMAT = "%(asctime)s %(levelname)-8s %(name)s: %(safe_message)s"
#: A log file is rotated at this size, keeping this many old files (``omnicord.log.1`` …).
MAX_BYTES = 10 * 1024 * 1024
BACKUPS = 5
#: A library's message with no arguments is kept up to this length, else omitted whole.
MAX_PLAIN = 200
OMITTED = "[omitted]"
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
    formatter = MaskingFormatter(FORMAT)
    omit = OmitPayloads()
    for handler in handlers:
        handler.setFormatter(formatter)
        handler.addFilter(omit)
        setattr(handler, _OURS, True)
        root.addHandler(handler)
    numeric = logging.getLevelName(level)
    root.setLevel(numeric if numeric == logging.DEBUG else max(numeric, logging.WARNING))
    logging.getLogger("omnicord").setLevel(numeric)
    return handlers


class MaskingFormatter(logging.Formatter):
    """Omnicord's lines with every secret and key shape masked, traceback included. A
    traceback formatted here is not left cached on the record, so other handlers format
    their own."""

    def format(self, record: logging.LogRecord) -> str:
        cached = record.exc_text
        try:
            return redact(super().format(record))
        finally:
            record.exc_text = cached


class OmitPayloads(logging.Filter):
    """For Omnicord's handlers: what a record may show, as its ``safe_message`` attribute.

    Omnicord's own records show their message. A library's record (any logger outside
    ``omnicord``) below WARNING carries payloads (discord.py's gateway events and REST bodies,
    the model SDK's request options, the HTTP clients' traffic): it keeps its wording and
    numbers, every other argument becomes ``[omitted]``, and a message without arguments
    longer than ``MAX_PLAIN`` is omitted whole. The record's own message and arguments are
    left alone, so any other handler sees them unchanged.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            safe = _safe_message(record)
        except Exception:  # a message that cannot be formatted: the handler reports it
            safe = OMITTED
        record.__dict__["safe_message"] = safe  # as LogRecord keeps its fields (makeLogRecord)
        return True


def _safe_message(record: logging.LogRecord) -> str:
    if _is_ours(record.name) or record.levelno >= logging.WARNING:
        return record.getMessage()
    if not record.args:
        text = str(record.msg)
        return text if len(text) <= MAX_PLAIN else f"{OMITTED} ({len(text)} characters)"
    shaped = logging.makeLogRecord({"msg": record.msg, "args": _shapes(record.msg, record.args)})
    try:
        return shaped.getMessage()
    except (TypeError, ValueError, KeyError):  # arguments that never fitted their message
        return f"{record.msg!s:.{MAX_PLAIN}} {OMITTED}"


def _shapes(msg: object, args: tuple[Any, ...] | Mapping[str, Any]) -> Any:
    if isinstance(args, Mapping):
        if "%(" not in str(msg):  # the mapping itself is the one argument
            return (OMITTED,)
        return {key: _shape(value) for key, value in args.items()}
    return tuple(_shape(value) for value in args)


def _shape(value: object) -> object:
    return value if isinstance(value, int | float) else OMITTED


def _is_ours(name: str) -> bool:
    return name == "omnicord" or name.startswith("omnicord.")


class LogFile(logging.handlers.RotatingFileHandler):
    """A rotated log file created owner-only (0600: at DEBUG it holds member ids), backups
    included. If a write fails (a full disk, a device that refuses), stderr gets one line
    naming OMNICORD_LOG_FILE and the file is given up; logging goes on on stderr."""

    failed = False

    def _open(self) -> Any:
        return open(self.baseFilename, self.mode, encoding=self.encoding, errors=self.errors,
                    opener=_owner_only)

    def emit(self, record: logging.LogRecord) -> None:
        if not self.failed:
            super().emit(record)

    def handleError(self, record: logging.LogRecord) -> None:
        error = sys.exc_info()[1]
        if not isinstance(error, OSError):
            super().handleError(record)  # a bad format string: reported as logging does
            return
        self.failed = True
        sys.stderr.write(f"omnicord: OMNICORD_LOG_FILE: cannot write the log file "
                         f"{self.baseFilename} ({error.strerror or error}): logging to "
                         "stderr only\n")
        with contextlib.suppress(OSError):  # the unwritten buffer fails again; closed anyway
            self.close()


def _owner_only(path: str, flags: int) -> int:
    return os.open(path, flags, 0o600)


def _file_handler(file: Path, max_bytes: int, backups: int) -> logging.Handler:
    try:
        file.parent.mkdir(parents=True, exist_ok=True)
        return LogFile(file, maxBytes=max_bytes, backupCount=backups, encoding="utf-8")
    except OSError as error:
        raise ConfigError(f"OMNICORD_LOG_FILE: cannot write {file}: "
                          f"{error.strerror or error}") from None
