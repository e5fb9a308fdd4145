"""Live talk's settings and its daily talk time per server, written once for both backends.

The talk time is a promise across processes (a server's minutes per day), so it lives here
and every session adds to it as it goes: a single upsert adds, whatever other process adds at
the same moment.
"""

from __future__ import annotations

from omnicord.store.records import TalkSettings, utc_now
from omnicord.store.sql.dialect import Executor

_SAVE = (
    "INSERT INTO talk_settings (guild_id, enabled, minutes_per_day, idle_minutes,"
    " caption_members, roles, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7)"
    " ON CONFLICT (guild_id) DO UPDATE SET enabled = excluded.enabled,"
    " minutes_per_day = excluded.minutes_per_day, idle_minutes = excluded.idle_minutes,"
    " caption_members = excluded.caption_members, roles = excluded.roles,"
    " updated_at = excluded.updated_at")
_SPEND = (
    "INSERT INTO talk_time (guild_id, day, seconds) VALUES ($1, $2, $3)"
    " ON CONFLICT (guild_id, day) DO UPDATE SET seconds = talk_time.seconds + excluded.seconds")
_USED = "SELECT seconds FROM talk_time WHERE guild_id = $1 AND day = $2"


class TalkTime:
    """A server's live-talk settings and the seconds it talked each day."""

    def __init__(self, executor: Executor) -> None:
        self._db = executor

    async def settings(self, guild_id: str) -> TalkSettings:
        """What the server chose (the defaults, talk off, when it never chose)."""
        row = await self._db.fetchrow(
            "SELECT enabled, minutes_per_day, idle_minutes, caption_members, roles"
            " FROM talk_settings WHERE guild_id = $1", guild_id)
        if row is None:
            return TalkSettings()
        enabled, minutes, idle, captions, roles = tuple(row)
        return TalkSettings(enabled=bool(enabled), minutes_per_day=int(minutes),
                            idle_minutes=int(idle), caption_members=bool(captions),
                            roles=frozenset(str(roles).split()))

    async def save(self, guild_id: str, chosen: TalkSettings) -> None:
        """Replace the server's live-talk settings."""
        await self._db.execute(_SAVE, guild_id, int(chosen.enabled), chosen.minutes_per_day,
                               chosen.idle_minutes, int(chosen.caption_members),
                               " ".join(sorted(chosen.roles)), utc_now())

    async def spend(self, guild_id: str, day: str, seconds: float) -> float:
        """Add ``seconds`` to the server's talk time on ``day``; return its total so far."""
        if seconds > 0:
            await self._db.execute(_SPEND, guild_id, day, float(seconds))
        return await self.used(guild_id, day)

    async def used(self, guild_id: str, day: str) -> float:
        """The seconds the server talked on ``day``."""
        row = await self._db.fetchrow(_USED, guild_id, day)
        return float(row[0]) if row else 0.0
