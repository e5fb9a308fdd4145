"""Live captions of a talk session in its voice channel's text chat, for members who can't
listen: Omnicord's answer appears as it speaks (one message per answer, edited as it grows,
at most every ``EDIT_EVERY`` seconds) and, if the server wants, what members said.

``caption`` never waits for Discord: the talk session calls it between audio packets, and a
writer task of its own posts and edits behind it, so a slow or rate-limited chat never delays
what members hear.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable

import discord
from omnicord.cogs.delivery.streaming import NO_PINGS
from omnicord.live.session import Caption

log = logging.getLogger("omnicord.talk")

EDIT_EVERY = 1.5
_MAX_CHARS = 1900  # a Discord message holds 2000
_MAX_PENDING = 50  # lines waiting for the chat; beyond, the oldest members' lines go


class CaptionBoard:
    """Posts a talk session's notices and captions in its channel's chat."""

    def __init__(self, channel: discord.abc.Messageable,
                 name_of: Callable[[str], str], *, edit_every: float = EDIT_EVERY) -> None:
        self.channel = channel
        self.name_of = name_of
        self.edit_every = edit_every
        self._answers: dict[str, tuple[str, bool]] = {}  # answer id -> latest text, final
        self._shown: dict[str, discord.Message] = {}
        self._lines: list[str] = []  # members' final lines, in order
        self._dirty = asyncio.Event()
        self._writer: asyncio.Task[None] | None = None

    async def say(self, text: str) -> None:
        """Post a notice now (the session starting or ending); failures are logged."""
        try:
            await self.channel.send(text, allowed_mentions=NO_PINGS)
        except discord.HTTPException as error:
            log.warning("could not post in a talk channel's chat: HTTP %s", error.status)

    def caption(self, line: Caption) -> None:
        """Show a caption line soon (see the module docstring)."""
        if line.speaker_id:
            self._lines.append(f"🗣️ **{_plain(self.name_of(line.speaker_id))}:** "
                               f"{_clip(line.text)}")
            del self._lines[:-_MAX_PENDING]
        else:
            self._answers[line.answer_id] = (line.text, line.final)
        self._dirty.set()
        if self._writer is None:
            self._writer = asyncio.create_task(self._write(), name="omnicord-talk-captions")

    async def close(self) -> None:
        """Show what is still pending, then stop the writer."""
        if self._writer is None:
            return
        self._writer.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._writer
        self._writer = None
        await self._flush()

    async def _write(self) -> None:
        while True:
            await self._dirty.wait()
            self._dirty.clear()
            await self._flush()
            await asyncio.sleep(self.edit_every)

    async def _flush(self) -> None:
        lines, self._lines = self._lines, []
        for text in lines:
            await self.say(text)
        for answer_id, (text, final) in list(self._answers.items()):
            await self._show_answer(answer_id, text)
            if final:
                del self._answers[answer_id]
                self._shown.pop(answer_id, None)

    async def _show_answer(self, answer_id: str, text: str) -> None:
        content = f"🔊 **Omnicord:** {_clip(text)}"
        shown = self._shown.get(answer_id)
        try:
            if shown is None:
                self._shown[answer_id] = await self.channel.send(content,
                                                                 allowed_mentions=NO_PINGS)
            elif shown.content != content:
                self._shown[answer_id] = await shown.edit(content=content,
                                                          allowed_mentions=NO_PINGS)
        except discord.HTTPException as error:
            log.warning("could not caption a talk answer: HTTP %s", error.status)


def _clip(text: str) -> str:
    text = " ".join(text.split())
    return text if len(text) <= _MAX_CHARS else text[:_MAX_CHARS - 1] + "…"


def _plain(name: str) -> str:
    return discord.utils.escape_markdown(discord.utils.escape_mentions(name))
