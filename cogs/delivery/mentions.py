"""Role and channel mentions listed in Omnicord's answers: bounded, so a server that allows
sixty channels gets a readable line (and a message Discord accepts), not a wall of mentions.
They ping nobody: every send uses ``AllowedMentions.none()``."""

from __future__ import annotations

from collections.abc import Iterable

#: Mentions named in one list; the rest are counted.
MENTIONS_SHOWN = 10


def role_mentions(ids: Iterable[str]) -> str:
    """``<@&id>`` for each role, in order, at most ``MENTIONS_SHOWN`` ('' for none)."""
    return _listed("<@&{}>", ids)


def channel_mentions(ids: Iterable[str]) -> str:
    """``<#id>`` for each channel, in order, at most ``MENTIONS_SHOWN`` ('' for none)."""
    return _listed("<#{}>", ids)


def _listed(shape: str, ids: Iterable[str]) -> str:
    ordered = sorted(ids)
    named = ", ".join(shape.format(i) for i in ordered[:MENTIONS_SHOWN])
    more = len(ordered) - MENTIONS_SHOWN
    return f"{named}, … (+{more})" if more > 0 else named
