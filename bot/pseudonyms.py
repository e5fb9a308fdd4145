"""Members in the log: a per-process pseudonym at INFO and above, the real id only at DEBUG.

A pseudonym is the first 8 hex digits of HMAC-SHA256 of the member's id under a key drawn
once per process and never stored (``member=~3fa9c1d2``; a DM scope ``dm:~3fa9c1d2``).
Operators can follow one member's lines within a run, but once the process ends nobody can
tie a tag to a person or recompute it: a log file holds nothing ``forget me`` would have to
erase. Channel and thread ids are not personal and stay as they are.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import os

_KEY = os.urandom(32)
_DM = "dm:"


def member_tag(user_id: object) -> str:
    """``~`` and 8 hex digits standing for ``user_id`` in this process."""
    digest = hmac.new(_KEY, str(user_id).encode(), hashlib.sha256).hexdigest()
    return f"~{digest[:8]}"


def scope_tag(scope: str) -> str:
    """``scope`` fit for INFO: ``dm:<user id>`` becomes ``dm:~<pseudonym>``; others stay."""
    return _DM + member_tag(scope[len(_DM):]) if scope.startswith(_DM) else scope


def reveal(log: logging.Logger, *people: object) -> None:
    """At DEBUG, one line naming the member id behind each pseudonym of the line that follows.

    ``people`` are member ids or conversation scopes (a DM scope names its member; other
    scopes name nobody)."""
    if not log.isEnabledFor(logging.DEBUG):
        return
    ids = dict.fromkeys(_person(p) for p in people)
    ids.pop(None, None)
    if ids:
        log.debug("pseudonyms: %s", " ".join(f"{member_tag(i)}={i}" for i in ids))


def _person(value: object) -> str | None:
    text = str(value)
    if text.startswith(_DM):
        return text[len(_DM):]
    return None if ":" in text else text
