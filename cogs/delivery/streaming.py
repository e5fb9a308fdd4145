"""Showing a streamed reply in Discord: first text at once, then paced edits, split messages.

The first piece of text is sent as soon as it arrives (a reply to the member). After that the
message is edited at most once per second per channel; text past 2,000 characters continues in
new messages split at paragraph or code-fence boundaries. ``finish`` makes the final edit. If
the member's message or the channel disappears, ``ReplyGone`` ends the reply quietly.

The first message may carry buttons (``view``: Stop while the reply is written), and the next
edit of it other ones (``then_show``: Regenerate once done). A redone answer (regenerated, or
for an edited question) is written into the reply message already there (``take_over``).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable
from typing import Any, TypeVar

import discord
from omnicord.cogs.delivery.pacing import EditPacer
from omnicord.cogs.delivery.split import split_message
from omnicord.model.events import ReplyEvent, TextDelta

T = TypeVar("T")
NO_PINGS = discord.AllowedMentions.none()
NOTICE_SECONDS = 20.0
_GONE_CODES = {10003, 10008}  # unknown channel, unknown message


CLEANUP_TASK_PREFIX = "omnicord-notice-cleanup"
_cleanups: set[asyncio.Task[None]] = set()


def delete_later(message: discord.Message, seconds: float) -> None:
    """Delete ``message`` after ``seconds``, in a named task that unloading can cancel."""

    async def remove() -> None:
        await asyncio.sleep(seconds)
        with contextlib.suppress(discord.HTTPException):
            await message.delete()

    task = asyncio.get_running_loop().create_task(
        remove(), name=f"{CLEANUP_TASK_PREFIX}-{message.id}"
    )
    _cleanups.add(task)
    task.add_done_callback(_cleanups.discard)


def cancel_cleanups() -> None:
    """Cancel pending notice deletions (on unload)."""
    for task in list(_cleanups):
        task.cancel()


class ReplyGone(Exception):
    """The channel or the message being answered was deleted."""


def is_gone(error: discord.HTTPException) -> bool:
    """Whether a Discord error means the conversation's place no longer exists."""
    return isinstance(error, discord.NotFound) or error.code in _GONE_CODES


class StreamingReply:
    """Mirrors a growing reply text into one or more Discord messages."""

    def __init__(
        self, channel: discord.abc.Messageable, reply_to: discord.Message | None,
        pacer: EditPacer, *, show_text: bool = True, view: discord.ui.View | None = None,
    ) -> None:
        self.channel = channel
        self.reply_to = reply_to
        self.pacer = pacer
        self.show_text = show_text
        self.text = ""
        self.messages: list[discord.Message] = []
        self._shown: list[str] = []
        self._key = getattr(channel, "id", id(channel))
        self.view = view  # sent with the first message
        self._next_view: Any = discord.utils.MISSING  # for the first message's next edit

    async def take_over(self, message: discord.Message | discord.PartialMessage) -> None:
        """Write this reply into ``message`` (a reply already shown): it gets this reply's
        buttons now, and its text when the new text comes."""
        taken = await self._call(message.edit(view=self.view, allowed_mentions=NO_PINGS))
        self.messages = [taken]
        self._shown = [taken.content]

    def then_show(self, view: discord.ui.View | None) -> None:
        """Give the first message ``view`` (None: no buttons) at its next edit, or at
        ``finish``."""
        self._next_view = view

    async def on_event(self, event: ReplyEvent) -> None:
        """Take one reply event; show text when it is due."""
        if not isinstance(event, TextDelta) or not self.show_text:
            return
        self.text += event.text
        if not self.messages or self.pacer.ready(self._key):
            await self._sync()

    async def finish(self) -> list[discord.Message]:
        """The final edit: everything shown, pacing respected."""
        if self.show_text and self.text.strip():
            await asyncio.sleep(self.pacer.wait_time(self._key) if self.messages else 0)
            await self._sync()
        if self.messages and self._next_view is not discord.utils.MISSING:
            await self._edit_first(self._shown[0])
        return self.messages

    async def show(self, text: str) -> list[discord.Message]:
        """Show ``text`` as the whole reply now (e.g. when a spoken reply did not come)."""
        self.show_text = True
        self.text = text
        return await self.finish()

    async def stop(self, note: str) -> None:
        """Show ``note`` instead of a reply cut short (it is not kept, so it is not shown)."""
        self.view, self._next_view = None, discord.utils.MISSING  # nothing left to press
        with contextlib.suppress(discord.HTTPException, ReplyGone):
            if not self.messages:
                await self._call(self._send(note, first=True))
                return
            first, *rest = self.messages
            await self._call(first.edit(content=note, allowed_mentions=NO_PINGS, view=None))
            for extra in rest:
                await self._call(extra.delete())

    async def notify(self, notices: list[str]) -> None:
        """Show media notices briefly (they are not part of the answer)."""
        if notices:
            text = "\n".join(f"-# {notice}" for notice in notices)
            shown = await self._call(self.channel.send(text, allowed_mentions=NO_PINGS,
                                                       silent=True))
            delete_later(shown, NOTICE_SECONDS)

    async def _sync(self) -> None:
        pieces = split_message(self.text) or []
        for index, piece in enumerate(pieces):
            if index < len(self._shown):
                if index == 0 and (piece != self._shown[0]
                                   or self._next_view is not discord.utils.MISSING):
                    await self._edit_first(piece)
                elif self._shown[index] != piece:
                    await self._call(self.messages[index].edit(content=piece,
                                                               allowed_mentions=NO_PINGS))
                    self._shown[index] = piece
                continue
            message = await self._call(self._send(piece, first=not self.messages))
            self.messages.append(message)
            self._shown.append(piece)
        self.pacer.mark(self._key)

    async def _edit_first(self, content: str) -> None:
        view, self._next_view = self._next_view, discord.utils.MISSING
        edited = self.messages[0].edit(content=content, allowed_mentions=NO_PINGS, view=view)
        self.messages[0] = await self._call(edited)
        self._shown[0] = content

    def _send(self, content: str, *, first: bool) -> Awaitable[discord.Message]:
        if not first:
            return self.channel.send(content, allowed_mentions=NO_PINGS)
        view, self._next_view = self._next_view, discord.utils.MISSING
        if view is discord.utils.MISSING:
            view = self.view
        extra: dict[str, Any] = {} if view is None else {"view": view}
        if self.reply_to is not None:
            reference = self.reply_to.to_reference(fail_if_not_exists=False)
            return self.channel.send(content, allowed_mentions=NO_PINGS, reference=reference,
                                     **extra)
        return self.channel.send(content, allowed_mentions=NO_PINGS, **extra)

    async def _call(self, action: Awaitable[T]) -> T:
        try:
            return await action
        except discord.HTTPException as error:
            if is_gone(error):
                raise ReplyGone from error
            raise
