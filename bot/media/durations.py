"""How a length of time reads to a member: a limit (``3 min``) or a place in a recording
(``1:05``)."""

from __future__ import annotations


def describe_duration(seconds: float) -> str:
    """``150 s``, ``3 min``, ``1 h 5 min``: how a member reads a limit."""
    if seconds < 180 and seconds != 60:
        return f"{round(seconds):g} s"
    minutes = int(seconds // 60)
    if minutes < 60:
        return f"{minutes} min"
    hours, rest = divmod(minutes, 60)
    return f"{hours} h {rest} min" if rest else f"{hours} h"


def clock(seconds: float) -> str:
    """``m:ss`` or ``h:mm:ss``."""
    whole = round(seconds)
    hours, rest = divmod(whole, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"
