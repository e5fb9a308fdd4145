"""Who is served, and with what: effective settings and the gate every request passes.

The gate takes, in order, a concurrency slot (per server; per member in direct messages, so one
member's slow DMs never hold up another's), the member's cooldown (per purpose, so a voice
note's auto-caption is not refused because the same note was just answered) and their daily
token cap. Refusals are ``Busy`` or ``OverDailyCap``, each a sentence fit for the member.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator

from omnicord.policy.preferences import Defaults, Effective, GuildPreferences, resolve
from omnicord.policy.throttle import ConcurrencyLimit, Cooldown
from omnicord.policy.usage import UsageLedger
from omnicord.store.interface import PreferenceStore


class Admission:
    """Effective settings and the request gate, over the preference store and usage ledger."""

    def __init__(
        self, defaults: Defaults, preferences: PreferenceStore, usage: UsageLedger, *,
        cooldown: Cooldown, concurrency: ConcurrencyLimit,
    ) -> None:
        self.defaults = defaults
        self.preferences = preferences
        self.usage = usage
        self.cooldown = cooldown
        self.concurrency = concurrency

    async def effective(self, guild_id: str, user_id: str) -> Effective:
        """The settings a reply to ``user_id`` in ``guild_id`` ('' for DMs) is made with."""
        guild = await self.preferences.guild(guild_id) if guild_id else None
        member = await self.preferences.member(guild_id, user_id)
        return resolve(self.defaults, guild or GuildPreferences(), member)

    @contextlib.asynccontextmanager
    async def admit(
        self, guild_id: str, user_id: int | str, *, purpose: str = "chat"
    ) -> AsyncIterator[Effective]:
        """Hold the gate for one request; yields the member's effective settings."""
        async with self.concurrency.slot(guild_id or f"dm:{user_id}"):
            await self.cooldown.hit(f"{purpose}:{user_id}")
            effective = await self.effective(guild_id, str(user_id))
            await self.usage.check_cap(str(user_id), effective.daily_token_cap)
            yield effective
