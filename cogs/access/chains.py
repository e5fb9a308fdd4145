"""Walking a Discord reply chain for the core's ``find_chain``: messages as links, parents
from the cache first and fetched only a bounded number of times."""

from __future__ import annotations

import discord
from omnicord.conversation.chains import Link

#: Messages fetched from Discord at most while finding one message's chain.
MAX_FETCHES = 5


def link_of(message: discord.Message, me: discord.abc.User) -> Link:
    """The walk's view of a message (a reply to another channel's message replies to none)."""
    reference = message.reference
    same_place = reference is not None and reference.channel_id == message.channel.id
    parent = str(reference.message_id) if same_place and reference and reference.message_id \
        else None
    return Link(str(message.id), by_omnicord=message.author.id == me.id,
                mentions_omnicord=me.id in message.raw_mentions, parent_id=parent)


class ReplyWalk:
    """The parents of the messages of one walk, from what is at hand before Discord."""

    def __init__(self, client: discord.Client, start: discord.Message,
                 *, max_fetches: int = MAX_FETCHES) -> None:
        self.client = client
        self.fetches_left = max_fetches
        self._seen: dict[str, discord.Message] = {str(start.id): start}

    async def parent_of(self, link: Link) -> Link | None:
        """The message ``link`` replies to, as a link; None when it cannot be had."""
        child = self._seen.get(link.message_id)
        if child is None or link.parent_id is None or self.client.user is None:
            return None
        parent = await self._message(child, int(link.parent_id))
        if parent is None:
            return None
        self._seen[str(parent.id)] = parent
        return link_of(parent, self.client.user)

    async def _message(self, child: discord.Message, message_id: int) -> discord.Message | None:
        resolved = child.reference.resolved if child.reference else None
        if isinstance(resolved, discord.Message):
            return resolved
        cached = discord.utils.get(self.client.cached_messages, id=message_id)
        if cached is not None:
            return cached
        if self.fetches_left <= 0:
            return None
        self.fetches_left -= 1
        try:
            return await child.channel.fetch_message(message_id)
        except discord.HTTPException:
            return None  # deleted, or not ours to read: the walk stops here
