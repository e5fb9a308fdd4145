"""Conversations that follow replies: which reply chain a member's message belongs to.

In a channel kept as reply chains, a message addressed to Omnicord (a mention, or a reply to
one of its messages) that replies to no message of a chain starts a conversation of its own,
``chain:<channel id>:<its message id>``; a reply to any message of a chain (a member's or
Omnicord's) continues that chain. The chain of a message is found by walking its replies
upwards: a message whose turn is stored names its conversation at once; otherwise (its reply
is still being written, or its turn was erased) the walk goes on to the message it replies to,
and a message addressed to Omnicord that continues nothing is a chain's first message.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Protocol

from omnicord.store.records import Turn

#: Messages walked upwards at most (cached ones cost nothing; the platform bounds fetches).
MAX_HOPS = 25


@dataclass(frozen=True)
class Link:
    """One message of a possible chain, as the walk sees it."""

    message_id: str
    by_omnicord: bool
    mentions_omnicord: bool
    parent_id: str | None = None  # the message it replies to


#: The message a link replies to (None: none, or it cannot be had).
ParentOf = Callable[[Link], Awaitable["Link | None"]]


class TurnFinder(Protocol):
    """The store's lookup of the turn a message made or showed."""

    async def turn_for_message(self, message_id: str) -> tuple[str, Turn] | None: ...


def chain_scope(channel_id: str, first_message_id: str) -> str:
    """The conversation of the chain a message started in a channel or thread."""
    return f"{chain_prefix(channel_id)}{first_message_id}"


def chain_prefix(channel_id: str) -> str:
    """What the scopes of a channel's (or thread's) reply chains start with."""
    return f"chain:{channel_id}:"


async def find_chain(store: TurnFinder, channel_id: str, new: Link, parent_of: ParentOf,
                     *, max_hops: int = MAX_HOPS) -> str:
    """The chain ``new`` (a message addressed to Omnicord) belongs to: the chain of a
    message it replies to, else a new chain it starts."""
    walk = _Walk(store, chain_prefix(channel_id), parent_of, max_hops)
    return await walk.chain_of(new) or chain_scope(channel_id, new.message_id)


class _Walk:
    """One walk up a reply chain, bounded in messages."""

    def __init__(self, store: TurnFinder, prefix: str, parent_of: ParentOf, hops: int) -> None:
        self.store = store
        self.prefix = prefix
        self.parent_of = parent_of
        self.hops = hops
        self.cut = False  # the walk stopped before the top: no message below may claim it

    async def chain_of(self, link: Link) -> str | None:
        """The chain ``link`` belongs to, or None when it is in none."""
        stored = await self.store.turn_for_message(link.message_id)
        if stored is not None:
            scope = stored[0]
            # A turn kept in the channel's shared history (before the mode changed) is in no
            # chain: a reply to it starts one.
            return scope if scope.startswith(self.prefix) else None
        parent = await self._parent(link)
        found = await self.chain_of(parent) if parent is not None else None
        if found is not None or link.by_omnicord or self.cut:
            return found  # Omnicord's message belongs to the chain of what it answered
        addressed = link.mentions_omnicord or (parent is not None and parent.by_omnicord)
        return self.prefix + link.message_id if addressed else None

    async def _parent(self, link: Link) -> Link | None:
        if link.parent_id is None:
            return None
        if self.hops <= 0:
            self.cut = True
            return None
        self.hops -= 1
        return await self.parent_of(link)
