"""Named conversations of the command line (``ask --session``, ``history``, ``reset``)."""

from __future__ import annotations


def scope_of(name: str) -> str:
    """The store scope of a command-line session."""
    return f"cli:{name}"
