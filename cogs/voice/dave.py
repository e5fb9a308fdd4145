"""The DAVE layer (Discord's end-to-end encryption of audio): a member's transport-decrypted
frame to the Opus packet inside, through discord.py's live ``davey.DaveSession``.

discord.py runs the MLS side (key packages, proposals, commits, welcomes, transitions) and
keeps the session on the voice connection; the session is replaced or re-keyed as members join
and leave, so it is looked up for every frame, never kept here.

The rules, per frame:

- protocol version 0 (DAVE off, or downgraded), or no session: the frame is the Opus packet;
- otherwise the session decrypts it (``decrypt(user_id, MediaType.audio, frame)``); davey
  itself lets unencrypted frames through for a member whose decryptor is in passthrough mode
  (discord.py sets it during transitions);
- while the session is not ready (no MLS group yet: joining, or a transition under way), davey
  has no decryptor for anyone; a frame that does not end in DAVE's magic marker (``0xFAFA``) is
  then an unencrypted frame sent before the group existed, as discord.py itself sends until its
  session is ready, and passes;
- anything else davey refuses is a failure: the caller makes it silence and counts it.
"""

from __future__ import annotations

import enum
from typing import TYPE_CHECKING

import davey

if TYPE_CHECKING:
    from collections.abc import Callable

#: DAVE's protocol frames end with this marker.
MAGIC_MARKER = b"\xfa\xfa"


class Outcome(enum.Enum):
    """What happened to a frame in the DAVE layer."""

    plain = "plain"  # DAVE off: taken as it came
    decrypted = "decrypted"  # decrypted by the session (or let through by davey's passthrough)
    unencrypted = "unencrypted"  # session not ready yet, frame not DAVE-encrypted
    failed = "failed"  # davey refused it


DaveState = tuple[int, "davey.DaveSession | None"]


def open_frame(state: DaveState, user_id: int, frame: bytes) -> tuple[bytes | None, Outcome]:
    """The Opus packet inside ``frame`` from ``user_id``, and how it was opened; ``None`` with
    ``Outcome.failed`` when davey refuses it."""
    protocol_version, session = state
    if protocol_version == 0 or session is None:
        return frame, Outcome.plain
    try:
        return session.decrypt(user_id, davey.MediaType.audio, frame), Outcome.decrypted
    except Exception:  # davey raises ValueError ("Failed to decrypt: ...")
        if not session.ready and not frame.endswith(MAGIC_MARKER):
            return frame, Outcome.unencrypted
        return None, Outcome.failed


class DaveLayer:
    """``open_frame`` over whatever session ``state`` returns at the moment of each frame."""

    def __init__(self, state: Callable[[], DaveState]) -> None:
        self.state = state

    def open(self, user_id: int, frame: bytes) -> tuple[bytes | None, Outcome]:
        """See ``open_frame``."""
        return open_frame(self.state(), user_id, frame)
