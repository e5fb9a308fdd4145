"""The buttons under a reply: *Stop* while it is being written, *Regenerate* once it is stored.

Both are persistent: ``discord.ui.DynamicItem``s whose custom ids (``omnicord:stop:<id>``,
``omnicord:regen:<id>``, the id being the member's message) carry everything a press needs, so
they keep working after a restart and cost no memory per message. The chat cog registers them
(``bot.add_dynamic_items``) and does the work; a press only finds it here. The patterns match
Omnicord's custom ids alone, so a host bot's own buttons are never caught.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

import discord
from omnicord.cogs.delivery.private import answer_privately
from omnicord.cogs.delivery.streaming import StreamingReply
from omnicord.cogs.runtime.locale import member_language
from omnicord.i18n import DEFAULT_LANGUAGE, t, text

STOP = "stop"
REGENERATE = "regen"
#: The cog that answers presses (found by its cog name, so this module imports no cog).
HOST_COG = "OmnicordChat"
#: Refusals of a press, in the presser's language (``.render(member_language(...))``).
NOT_ALLOWED = text("chat.not_allowed")
NOT_LOADED = text("chat.not_loaded")


class ControlsHost(Protocol):
    """What answers a press: the chat cog."""

    async def control_pressed(self, interaction: discord.Interaction, action: str,
                              message_id: int) -> None:
        """Stop or regenerate (``action``) the reply to the member's message ``message_id``."""


def custom_id(action: str, message_id: int) -> str:
    """A control's custom id: ``omnicord:<action>:<member's message id>``."""
    return f"omnicord:{action}:{message_id}"


class _Control(discord.ui.DynamicItem[discord.ui.Button[Any]],
               template=r"omnicord:(?P<action>stop|regen):(?P<id>[0-9]{1,20})"):
    """One control button; its custom id says which and for which member message."""

    def __init__(self, action: str, message_id: int, language: str = DEFAULT_LANGUAGE) -> None:
        # Everyone in the channel sees the label: the channel's language.
        label, style = ((t(language, "chat.stop_button"), discord.ButtonStyle.danger)
                        if action == STOP else
                        (t(language, "chat.regenerate_button"), discord.ButtonStyle.secondary))
        super().__init__(discord.ui.Button(label=label, style=style,
                                           custom_id=custom_id(action, message_id)))
        self.action = action
        self.message_id = message_id

    @classmethod
    async def from_custom_id(cls, interaction: discord.Interaction,
                             item: discord.ui.Item[Any], match: re.Match[str]) -> _Control:
        return cls(match["action"], int(match["id"]))

    async def callback(self, interaction: discord.Interaction) -> None:
        get_cog = getattr(interaction.client, "get_cog", None)
        host = get_cog(HOST_COG) if get_cog is not None else None
        if host is None or not hasattr(host, "control_pressed"):
            await answer_privately(interaction, NOT_LOADED.render(member_language(interaction)))
            return
        await host.control_pressed(interaction, self.action, self.message_id)


#: What ``bot.add_dynamic_items`` takes.
DYNAMIC_ITEMS = (_Control,)


def controls(action: str, message_id: int, language: str = DEFAULT_LANGUAGE) -> discord.ui.View:
    """A view with one control labelled in ``language`` (it is never stored: presses are found
    by custom id)."""
    view = discord.ui.View(timeout=None)
    view.add_item(_Control(action, message_id, language))
    return view


def may_control(interaction: discord.Interaction, asker_id: int | str) -> bool:
    """Whether the member pressing may stop or regenerate a reply: its asker, or a member
    allowed to manage messages in that channel."""
    if str(interaction.user.id) == str(asker_id):
        return True
    return interaction.guild is not None and interaction.permissions.manage_messages


async def remove_controls(message: discord.Message | discord.PartialMessage | None) -> None:
    """Take the buttons off a reply message (quietly: it may be gone)."""
    if message is None:
        return
    with contextlib.suppress(discord.HTTPException):
        await message.edit(view=None)


@dataclass
class UnderWay:
    """A reply this process is writing, found by its member's message id: Stop sets ``stop``;
    an edit of the question cancels ``task`` and writes the new answer where it was shown."""

    asker_id: int
    task: asyncio.Task[Any] | None
    stop: asyncio.Event = field(default_factory=asyncio.Event)
    done: asyncio.Event = field(default_factory=asyncio.Event)
    streamer: StreamingReply | None = None
    voice: discord.Message | None = None

    def shown(self) -> list[int]:
        """Ids of the messages that showed the reply so far (text first)."""
        text = self.streamer.messages if self.streamer is not None else []
        return [m.id for m in [*text, *filter(None, [self.voice])]]


class RepliesUnderWay:
    """The replies this process is writing, by member's message id. In memory only: a press
    of Stop reaches the process (the shard) that is writing the reply, and a reply does not
    outlive its process; after a restart Stop finds nothing and says so."""

    def __init__(self) -> None:
        self._replies: dict[int, UnderWay] = {}

    def get(self, message_id: int) -> UnderWay | None:
        """The reply under way to ``message_id``, if any."""
        return self._replies.get(message_id)

    def begin(self, message_id: int, asker_id: int) -> UnderWay:
        """Note a reply to ``message_id`` starting in the current task."""
        work = UnderWay(asker_id, asyncio.current_task())
        self._replies[message_id] = work
        return work

    def end(self, message_id: int, work: UnderWay) -> None:
        """The reply ended (however): forget it and wake whoever waits for it."""
        if self._replies.get(message_id) is work:
            del self._replies[message_id]
        work.done.set()

    def __len__(self) -> int:
        return len(self._replies)


@dataclass(frozen=True)
class Redo:
    """An answer written again into the reply already shown: regenerated, or for an edited
    question. The first of ``reply_ids`` that is a text message is written over, the others
    (continuations, the old voice message) are deleted."""

    replaces: str  # the member's message id: its stored turn is replaced
    reply_ids: tuple[int, ...]
    reuse: discord.Message | None = None  # the text message to write over, when known
    scope: str | None = None  # the stored turn's conversation (None: the message's own)
    regenerate: bool = False
    tell: Callable[[str], Awaitable[None]] | None = None  # failures go here (else in channel)
    language: str = DEFAULT_LANGUAGE  # of ``tell``'s lines (the presser's)
