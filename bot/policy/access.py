"""Who may use Omnicord where: the bot's DM policy and each server's allow lists of roles and
channels. Checked before anything is downloaded or sent to the model service."""

from __future__ import annotations

from collections.abc import Iterable

from omnicord.errors import InputError
from omnicord.i18n import text
from omnicord.store.interface import PreferenceStore
from omnicord.store.records import AccessList

NO_DMS = text("errors_access.no_dms")
NOT_YOUR_ROLES = text("errors_access.not_your_roles")
NOT_THIS_CHANNEL = text("errors_access.not_this_channel")


class AccessRefused(InputError):
    """The member may not use Omnicord here; the message says so politely, in one line."""


def check_access(access: AccessList, *, role_ids: Iterable[str],
                 channel_ids: Iterable[str]) -> None:
    """Refuse unless the member has an allowed role and the place (a channel, its parent or
    its category) is allowed; an empty list allows all."""
    if access.roles and access.roles.isdisjoint(role_ids):
        raise AccessRefused(NOT_YOUR_ROLES)
    if access.channels and access.channels.isdisjoint(channel_ids):
        raise AccessRefused(NOT_THIS_CHANNEL)


class Access:
    """The DM policy (OMNICORD_ALLOW_DMS) and servers' allow lists."""

    def __init__(self, preferences: PreferenceStore, *, allow_dms: bool = True) -> None:
        self.preferences = preferences
        self.allow_dms = allow_dms

    async def check(self, guild_id: str, *, role_ids: Iterable[str] = (),
                    channel_ids: Iterable[str] = ()) -> None:
        """AccessRefused unless the member may use Omnicord here (``guild_id`` '' for DMs)."""
        if not guild_id:
            if not self.allow_dms:
                raise AccessRefused(NO_DMS)
            return
        check_access(await self.preferences.access(guild_id), role_ids=set(role_ids),
                     channel_ids=set(channel_ids))
