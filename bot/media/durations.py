"""How a length of time reads to a member: a limit (``3 min``) or a place in a recording
(``1:05``)."""

from __future__ import annotations

from omnicord.i18n.text import Duration


def describe_duration(seconds: float) -> str:
    """``150 s``, ``3 min``, ``1 h 5 min``: how a member reads a limit."""
    if seconds < 180 and seconds != 60:
        return f"{round(seconds):g} s"
    minutes = int(seconds // 60)
    if minutes < 60:
        return f"{minutes} min"
    hours, rest = divmod(minutes, 60)
    return f"{hours} h {rest} min" if rest else f"{hours} h"


def limit_duration(seconds: float) -> Duration:
    """A limit as a duration for a catalogue message, rounded as ``describe_duration`` rounds
    it (whole minutes from 3 min on)."""
    if seconds < 180 and seconds != 60:
        return Duration(round(seconds))
    return Duration(seconds // 60 * 60)


def clock(seconds: float) -> str:
    """``m:ss`` or ``h:mm:ss``."""
    whole = round(seconds)
    hours, rest = divmod(whole, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"
