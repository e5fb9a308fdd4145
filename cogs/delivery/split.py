"""Splitting long replies into chat-sized messages at natural boundaries.

Messages break at paragraph ends, then line ends, then sentence ends, then spaces (or, with
none in the second half of the room, exactly at the limit); a code block cut in two is closed
at the end of one message and re-opened (same language) in the next.

Any text a model can write is split in time linear in its length, every piece fits the limit,
and nothing is lost: removing the fence lines the splitter adds and joining the pieces gives
the original text, except for the newlines dropped where a piece was cut.
"""

from __future__ import annotations

import re

DISCORD_MESSAGE_LIMIT = 2000
# [ \t]* rather than \s*: \s would also run across newlines and turn a text of blank lines
# into quadratic work.
_FENCE = re.compile(r"^[ \t]*```(\S*)", re.MULTILINE)
_LANGUAGE = re.compile(r"^[\w+#.-]{1,24}$")
_BREAKS = ("\n\n", "\n", ". ", " ")
CLOSE = "\n```"


def _open_fence(text: str) -> str | None:
    """The language of a code block left open at the end of ``text`` ('' if none given)."""
    language = None
    for match in _FENCE.finditer(text):
        language = None if language is not None else match.group(1)
    return language


def reopening(language: str) -> str:
    """The line that re-opens a code block: its language only when it is a plausible name."""
    return f"```{language}\n" if _LANGUAGE.match(language) else "```\n"


def _cut(text: str, start: int, stop: int) -> int:
    """Where a piece starting at ``start`` ends, at most at ``stop`` and past its middle."""
    if stop >= len(text):
        return len(text)
    middle = start + (stop - start) // 2
    for mark in _BREAKS:
        index = text.rfind(mark, middle, stop)
        if index > start:
            return index + len(mark)
    return stop


def _skip_newlines(text: str, index: int) -> int:
    while index < len(text) and text[index] == "\n":
        index += 1
    return index


def split_message(text: str, limit: int = DISCORD_MESSAGE_LIMIT) -> list[str]:
    """``text`` as pieces of at most ``limit`` characters, code fences kept balanced."""
    if limit < 64:
        raise ValueError("a message limit under 64 characters leaves no room for fences")
    pieces: list[str] = []
    start, reopen = 0, ""
    while start < len(text):
        stop = start + limit - len(reopen) - len(CLOSE)
        end = _cut(text, start, stop)
        piece = reopen + text[start:end]
        start = _skip_newlines(text, end)
        language = _open_fence(piece)
        if language is not None and start < len(text):
            piece = piece.rstrip("\n") + CLOSE
            reopen = reopening(language)
        else:
            reopen = ""
        if piece.strip():
            pieces.append(piece)
    return pieces
