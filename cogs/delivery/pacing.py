"""Edit pacing: Discord accepts about one message edit per second per channel."""

from __future__ import annotations

import time
from collections.abc import Callable

Clock = Callable[[], float]


class EditPacer:
    """At most one message edit per ``interval`` seconds per channel (Discord's accepted pace)."""

    def __init__(self, interval: float = 1.0, clock: Clock = time.monotonic) -> None:
        self.interval = interval
        self._clock = clock
        self._last: dict[int | str, float] = {}

    def ready(self, channel: int | str) -> bool:
        """Whether an edit may go out now."""
        last = self._last.get(channel)
        return last is None or self._clock() - last >= self.interval

    def wait_time(self, channel: int | str) -> float:
        """Seconds until the next edit may go out."""
        last = self._last.get(channel)
        return 0.0 if last is None else max(0.0, self.interval - (self._clock() - last))

    def mark(self, channel: int | str) -> None:
        """Record that an edit (or send) just went out."""
        self._last[channel] = self._clock()
