"""Dropping cached media that no stored turn refers to any more, in every process.

The process that sees a deletion drops its own cache entries at once (``Privacy``). Processes
with caches of their own (on other hosts) learn of it here: every ``SWEEP_INTERVAL_SECONDS``
each asks the shared store which of its idle entries' contents a turn still refers to, and
drops the rest. So a deleted member's media leaves every cache within the idle margin plus one
interval (25 minutes by default; a cache holding more than ``SWEEP_MAX_HASHES`` idle contents
needs one more interval per that many), not ``OMNICORD_CACHE_MAX_DAYS``.
"""

from __future__ import annotations

import bisect
import logging
from collections.abc import Sequence
from typing import Protocol

from omnicord.media.cache import MediaCache

log = logging.getLogger("omnicord.media_cache")

#: How often each process sweeps: a deleted turn's media is gone from every host within this
#: (after the idle margin); each sweep costs a folder listing and a few indexed queries.
SWEEP_INTERVAL_SECONDS = 10 * 60
#: Content hashes asked about per store query.
SWEEP_BATCH = 500
#: Content hashes checked per sweep at most: a huge cache is worked through over several
#: sweeps (continuing where the last stopped), never in one long pass.
SWEEP_MAX_HASHES = 10 * SWEEP_BATCH
#: Entries used (written or read) more recently than this are never swept. An entry is written
#: just before its turn is stored, after the reply was delivered; this margin is far longer
#: than that gap, and at least as long as a whole reply may take (4 × the request timeout).
MIN_IDLE_SECONDS = 15 * 60


class MediaReferences(Protocol):
    """The one store query a sweep needs."""

    async def referenced_media(self, content_hashes: Sequence[str]) -> set[str]:
        """Which of these content hashes a stored turn refers to."""


class CacheSweep:
    """Sweeps of one process's media cache against the shared store."""

    def __init__(self, store: MediaReferences, cache: MediaCache, *,
                 idle_seconds: float = MIN_IDLE_SECONDS, batch: int = SWEEP_BATCH,
                 max_hashes: int = SWEEP_MAX_HASHES) -> None:
        self.store = store
        self.cache = cache
        self.idle_seconds = idle_seconds
        self.batch = batch
        self.max_hashes = max_hashes
        self._after = ""  # the last content hash the previous sweep checked

    async def run(self) -> int:
        """One sweep: drop idle entries whose content no stored turn refers to; return how
        many files went (one INFO line when any did)."""
        chosen = self._next(await self.cache.idle_hashes(self.idle_seconds))
        unused: set[str] = set()
        for start in range(0, len(chosen), self.batch):
            batch = chosen[start:start + self.batch]
            unused.update(set(batch) - await self.store.referenced_media(batch))
        removed = await self.cache.drop_idle(unused, self.idle_seconds) if unused else 0
        if removed:
            log.info("media cache: swept %d files of %d contents no stored turn refers to",
                     removed, len(unused))
        return removed

    def _next(self, idle: list[str]) -> list[str]:
        """Up to ``max_hashes`` of the sorted idle hashes, starting after the last sweep's."""
        start = bisect.bisect_right(idle, self._after)
        chosen = (idle[start:] + idle[:start])[:self.max_hashes]
        self._after = chosen[-1] if chosen else ""
        return chosen
