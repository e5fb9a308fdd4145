"""Splitting long replies into chat-sized messages at natural boundaries.

Messages break at paragraph ends, then line ends, then sentence ends, then spaces; a code block
cut in two is closed at the end of one message and re-opened (same language) in the next.
"""

from __future__ import annotations

import re

DISCORD_MESSAGE_LIMIT = 2000
_FENCE = re.compile(r"^\s*```(\S*)", re.MULTILINE)
_BREAKS = ("\n\n", "\n", ". ", " ")


def _open_fence(text: str) -> str | None:
    """The language of a code block left open at the end of ``text`` ('' if none given)."""
    language = None
    for match in _FENCE.finditer(text):
        language = None if language is not None else match.group(1)
    return language


def _cut(text: str, room: int) -> int:
    """Where to end a piece of at most ``room`` characters."""
    if len(text) <= room:
        return len(text)
    for mark in _BREAKS:
        index = text.rfind(mark, room // 2, room)
        if index > 0:
            return index + len(mark)
    return room


def split_message(text: str, limit: int = DISCORD_MESSAGE_LIMIT) -> list[str]:
    """``text`` as pieces of at most ``limit`` characters, code fences kept balanced."""
    pieces: list[str] = []
    rest = text
    reopen = ""
    while rest:
        room = limit - len(reopen) - 4  # leave space to close a fence: "\n```"
        end = _cut(rest, room)
        piece = reopen + rest[:end]
        rest = rest[end:].lstrip("\n") if end < len(rest) else ""
        language = _open_fence(piece)
        if language is not None and rest:
            piece = piece.rstrip("\n") + "\n```"
            reopen = f"```{language}\n"
        else:
            reopen = ""
        pieces.append(piece)
    return [p for p in pieces if p.strip()]
