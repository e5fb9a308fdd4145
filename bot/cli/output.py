"""How the command line talks to its user: exit codes and one-line messages on stderr."""

from __future__ import annotations

import sys

from omnicord.secrets import redact

EXIT_OK, EXIT_UPSTREAM, EXIT_USAGE, EXIT_INTERRUPTED = 0, 1, 2, 130


def note(message: str) -> None:
    """A progress or status line on stderr."""
    print(f"omnicord: {redact(message)}", file=sys.stderr)


def warn(message: str) -> None:
    """A warning on stderr: something is likely wrong, but the command goes on."""
    print(f"omnicord: warning: {redact(message)}", file=sys.stderr)


def fail(message: str, status: int) -> int:
    """Print one error line on stderr; return ``status`` for the caller to exit with."""
    print(f"omnicord: error: {redact(message)}", file=sys.stderr)
    return status
