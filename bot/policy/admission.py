"""Who is served, and with what: effective settings and the gate every request passes.

The gate takes, in order, a concurrency slot (per server; per member in direct messages, so one
member's slow DMs never hold up another's), the member's cooldown (per purpose, so a voice
note's auto-caption is not refused because the same note was just answered), their daily
token cap and the server's and bot's monthly budgets. Refusals are ``Busy``, ``OverDailyCap``
or ``OverBudget``, each a sentence fit for the member.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING

from omnicord.policy.preferences import (
    Defaults,
    Effective,
    GuildPreferences,
    Place,
    PlaceLevels,
    resolve,
)
from omnicord.policy.throttle import ConcurrencyLimit, Cooldown
from omnicord.policy.usage import UsageLedger
from omnicord.store.interface import PreferenceStore

if TYPE_CHECKING:
    from omnicord.policy.budgets import Budgets


class Admission:
    """Effective settings and the request gate, over the preference store and usage ledger."""

    def __init__(
        self, defaults: Defaults, preferences: PreferenceStore, usage: UsageLedger, *,
        cooldown: Cooldown, concurrency: ConcurrencyLimit, budgets: Budgets | None = None,
    ) -> None:
        self.defaults = defaults
        self.preferences = preferences
        self.usage = usage
        self.cooldown = cooldown
        self.concurrency = concurrency
        self.budgets = budgets

    async def effective(self, guild_id: str, user_id: str, place: Place | None = None
                        ) -> Effective:
        """The settings a reply to ``user_id`` in ``guild_id`` ('' for DMs) is made with, in
        ``place`` (a channel or thread, whose own model and persona win) when given."""
        guild = await self.preferences.guild(guild_id) if guild_id else None
        member = await self.preferences.member(guild_id, user_id)
        levels = await self.place_levels(place) if guild_id else ()
        return resolve(self.defaults, guild or GuildPreferences(), member, levels)

    async def place_levels(self, place: Place | None) -> PlaceLevels:
        """A place's own settings: a thread's, then its channel's; or a channel's."""
        if place is None:
            return ()
        own = await self.preferences.place(place.channel_id)
        if place.parent_id is None:
            return (("channel", own),)
        return (("thread", own), ("channel", await self.preferences.place(place.parent_id)))

    @contextlib.asynccontextmanager
    async def admit(
        self, guild_id: str, user_id: int | str, *, purpose: str = "chat",
        place: Place | None = None,
    ) -> AsyncIterator[Effective]:
        """Hold the gate for one request; yields the member's effective settings."""
        async with self.concurrency.slot(guild_id or f"dm:{user_id}"):
            await self.cooldown.hit(f"{purpose}:{user_id}")
            effective = await self.effective(guild_id, str(user_id), place)
            await self.usage.check_cap(str(user_id), effective.daily_token_cap)
            if self.budgets is not None:
                await self.budgets.check(guild_id)
            yield effective
