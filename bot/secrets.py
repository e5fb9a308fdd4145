"""Secrets masked by value wherever text leaves Omnicord: CLI output, logs, Discord messages.

Every ``Settings`` registers its API key and Discord token here when it is built (a host
bot's own ``Settings`` included), whatever their shape. ``redact`` masks those values, and
anything shaped like a key or a bearer token besides. A log record factory masks every log
record in the process, its traceback included, before any handler sees it.
"""

from __future__ import annotations

import logging
import re
import threading
import traceback
from typing import Any

MASK = "[redacted]"
_PATTERN = re.compile(r"\b(sk-[A-Za-z0-9_\-]{4,}|Bearer\s+\S+)", re.IGNORECASE)
_MIN_SECRET_LENGTH = 6  # shorter values would mask ordinary words

_secrets: list[str] = []
_lock = threading.Lock()
_installed = False


def register(*values: str | None) -> None:
    """Mask these values from now on (and install the log masking, once)."""
    with _lock:
        for value in values:
            if value and len(value.strip()) >= _MIN_SECRET_LENGTH and value not in _secrets:
                _secrets.append(value.strip())
        _secrets.sort(key=len, reverse=True)  # a secret containing another goes first
    _install_log_masking()


def redact(text: str) -> str:
    """``text`` with every registered secret and anything shaped like a key masked."""
    for secret in _secrets:
        if secret in text:
            text = text.replace(secret, MASK)
    return _PATTERN.sub(MASK, text)


def _install_log_masking() -> None:
    global _installed
    with _lock:
        if _installed:
            return
        _installed = True
        make_record = logging.getLogRecordFactory()

    def masked_record(*args: Any, **kwargs: Any) -> logging.LogRecord:
        record = make_record(*args, **kwargs)
        _mask(record)
        return record

    logging.setLogRecordFactory(masked_record)


def _mask(record: logging.LogRecord) -> None:
    try:
        message = record.getMessage()
    except Exception:  # a bad format string: leave it for logging to report
        return
    masked = redact(message)
    if masked != message:  # otherwise the arguments stay, for handlers that omit payloads
        record.msg, record.args = masked, None
    if record.exc_info and record.exc_info[1] is not None:
        record.exc_text = redact("".join(traceback.format_exception(*record.exc_info)).rstrip())
