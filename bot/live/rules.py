"""Who may talk with Omnicord in a voice channel, and how much talk time a server has left."""

from __future__ import annotations

from collections.abc import Iterable

from omnicord.store.records import AccessList, TalkSettings

_EVERYONE = AccessList()
#: How often a session's talk time is added to the store (and the budget checked).
SPEND_EVERY_SECONDS = 10.0


def may_be_heard(chosen: TalkSettings, member_roles: Iterable[str],
                 access: AccessList = _EVERYONE) -> bool:
    """Whether a member's voice reaches the model: the server's allow list of roles lets them
    use Omnicord (an empty list lets everyone), and they hold one of its talk roles (none
    named: any member)."""
    roles = frozenset(member_roles)
    return ((not access.roles or not access.roles.isdisjoint(roles))
            and (not chosen.roles or not chosen.roles.isdisjoint(roles)))


def seconds_left(chosen: TalkSettings, used_today: float) -> float:
    """The talk time the server has left today (0 when spent)."""
    return max(0.0, chosen.minutes_per_day * 60.0 - used_today)


def voice_scope(channel_id: str | int) -> str:
    """The conversation scope that keeps a voice channel's talk transcripts: the channel's own, so
    `/omni export` and `/omni reset` in its chat cover them and its chat shares them."""
    return f"channel:{channel_id}"
