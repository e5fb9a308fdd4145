"""Replies under way in one bot, so that stopping it lets them finish.

Each cog runs a reply (or a caption) inside ``InFlight.track()``; ``drain`` stops new ones from
starting, waits for those under way up to a grace period, then cancels the rest. A cancelled
reply stores nothing (``Conversations.respond`` stores a turn only once it finished).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from omnicord.i18n import text

#: What a member sees instead of a reply cut short by a restart (in the channel's language).
STOPPED_NOTE = text("chat.stopped_restarting")
#: Seconds a cut reply gets to tell its member (the note) before the bot closes anyway.
CUT_CLEANUP_SECONDS = 3.0


@dataclass(frozen=True)
class Drained:
    """How the replies under way when stopping ended."""

    finished: int
    cut: int

    def summary(self) -> str:
        """``2 replies finished, 0 cut``."""
        noun = "reply" if self.finished == 1 else "replies"
        return f"{self.finished} {noun} finished, {self.cut} cut"


class InFlight:
    """The replies under way, and whether new ones may start."""

    def __init__(self) -> None:
        self.accepting = True
        self._tasks: set[asyncio.Task[Any]] = set()

    @property
    def stopping(self) -> bool:
        """Whether the bot is stopping (no new reply may start)."""
        return not self.accepting

    @property
    def count(self) -> int:
        """Replies under way now."""
        return len(self._tasks)

    @contextlib.contextmanager
    def track(self) -> Iterator[None]:
        """Count the current task as a reply under way until the block ends."""
        task = asyncio.current_task()
        assert task is not None
        self._tasks.add(task)
        try:
            yield
        finally:
            self._tasks.discard(task)

    async def drain(self, grace: float, now: asyncio.Event | None = None) -> Drained:
        """Refuse new replies, let those under way finish for up to ``grace`` seconds (or
        until ``now`` is set), then cancel the rest and give them a moment to clean up."""
        self.accepting = False
        under_way = set(self._tasks)
        if under_way:
            await _wait(under_way, grace, now)
        late = [task for task in under_way if not task.done()]
        for task in late:
            task.cancel()
        if late:
            await asyncio.wait(late, timeout=CUT_CLEANUP_SECONDS)
        return Drained(finished=len(under_way) - len(late), cut=len(late))


async def _wait(tasks: set[asyncio.Task[Any]], timeout: float, now: asyncio.Event | None) -> None:
    """Until every task is done, ``timeout`` passed, or ``now`` is set."""
    everything = asyncio.ensure_future(asyncio.wait(tasks))  # cancelling it leaves the tasks be
    waits: set[asyncio.Future[Any]] = {everything}
    if now is not None:
        waits.add(asyncio.ensure_future(now.wait()))
    try:
        await asyncio.wait(waits, timeout=timeout, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for wait in waits:
            wait.cancel()
