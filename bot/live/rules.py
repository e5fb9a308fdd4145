"""Who may talk with Omnicord in a voice channel, and how much talk time a server has left."""

from __future__ import annotations

from collections.abc import Iterable

from omnicord.store.records import TalkSettings

#: How often a session's talk time is added to the store (and the budget checked).
SPEND_EVERY_SECONDS = 10.0


def may_be_heard(chosen: TalkSettings, member_roles: Iterable[str]) -> bool:
    """Whether a member's voice reaches the model: any member when the server named no talk
    roles, else members holding one of them."""
    return not chosen.roles or not chosen.roles.isdisjoint(member_roles)


def seconds_left(chosen: TalkSettings, used_today: float) -> float:
    """The talk time the server has left today (0 when spent)."""
    return max(0.0, chosen.minutes_per_day * 60.0 - used_today)


def voice_scope(channel_id: str | int) -> str:
    """The conversation scope that keeps a voice channel's talk transcripts."""
    return f"voice:{channel_id}"
