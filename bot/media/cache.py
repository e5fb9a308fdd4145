"""Prepared media kept on disk by content hash, so recent turns can be re-sent cheaply.

An entry is one ``PreparedMedia`` for one target (model family, purpose, budget), written as
JSON. Entries older than the age limit are dropped; when the cache passes its size cap the
least recently used entries go first. All file work runs in a thread.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import logging
import math
import os
import re
import tempfile
import time
from collections.abc import Iterable
from dataclasses import asdict
from pathlib import Path
from typing import Any

from omnicord.files import private_folder
from omnicord.i18n.text import Duration, Text
from omnicord.media.types import MediaTarget, Notice, PreparedMedia, PreparedPart

log = logging.getLogger("omnicord.media_cache")
DEFAULT_MAX_BYTES = 500 * 1024 * 1024
_ENTRY_NAME = re.compile(r"^[0-9a-f]{64}-[0-9a-f]{16}\.json$")  # only our own files are pruned
_PARTIAL_NAME = re.compile(r"^[0-9a-f]{64}-[0-9a-f]{16}\.json\.[\w-]+\.tmp$")
_CONTENT_HASH = re.compile(r"^[0-9a-f]{64}$")
_PARTIAL_MAX_AGE = 3600  # a partial entry this old belongs to a writer that died
DEFAULT_MAX_AGE_SECONDS = 7 * 24 * 3600


def target_key(target: MediaTarget) -> str:
    """What makes two preparations of the same file different.

    The byte budget is left out on purpose: a preparation made under a smaller budget serves
    as well, and the composer checks every re-sent item against the request's budget anyway.
    """
    model = target.model
    return f"{model.kind}-{model.name}-{target.purpose}-" + (
        "whole" if target.whole_video else "trim"
    )


def entry_name(content_hash: str, target: MediaTarget) -> str:
    """File name of a cache entry."""
    digest = hashlib.sha256(target_key(target).encode()).hexdigest()[:16]
    return f"{content_hash}-{digest}.json"


def _encode(media: PreparedMedia) -> str:
    data = asdict(media)
    data["notices"] = [_notice_data(notice) for notice in media.notices]
    return json.dumps(data)


def _decode(text: str) -> PreparedMedia:
    data: dict[str, Any] = json.loads(text)
    data["parts"] = tuple(PreparedPart(**part) for part in data["parts"])
    data["notices"] = tuple(_notice(notice) for notice in data["notices"])
    return PreparedMedia(**data)


def _notice_data(notice: str) -> str | dict[str, Any]:
    """A notice as JSON: its catalogue message (key and values) when it has one."""
    message = notice.message if isinstance(notice, Notice) else None
    if message is None:
        return str(notice)
    values = {name: {"seconds": value.seconds} if isinstance(value, Duration) else value
              for name, value in message.values.items()}
    return {"key": message.key, "values": values}


def _notice(data: str | dict[str, Any]) -> str:
    if isinstance(data, str):
        return data
    values = {name: Duration(value["seconds"]) if isinstance(value, dict) else value
              for name, value in data["values"].items()}
    return Notice(Text(data["key"], values))


class MediaCache:
    """A size- and age-bounded folder of prepared media."""

    def __init__(
        self, folder: Path, *, max_bytes: int = DEFAULT_MAX_BYTES,
        max_age_seconds: float = DEFAULT_MAX_AGE_SECONDS,
    ) -> None:
        self.folder = Path(folder)
        self.max_bytes = max_bytes
        self.max_age_seconds = max_age_seconds

    async def get(self, content_hash: str, target: MediaTarget) -> PreparedMedia | None:
        """The cached preparation, or None (missing, expired or unreadable)."""
        if not content_hash:
            return None
        return await asyncio.to_thread(self._get, self.folder / entry_name(content_hash, target))

    async def put(self, media: PreparedMedia, target: MediaTarget) -> bool:
        """Store a preparation, then trim the cache to its limits; return whether it was kept.

        The cache is an optimisation: a failure (full disk, unwritable folder) is logged and
        otherwise ignored, so it can never cost the turn being stored.
        """
        if not media.content_hash:
            return False
        path = self.folder / entry_name(media.content_hash, target)
        try:
            await asyncio.to_thread(self._put, path, media)
        except (OSError, ValueError, TypeError) as error:
            log.warning("media cache: could not keep content %s (%s)", media.content_hash[:12],
                        error)  # the hash, not the member's file name
            return False
        return True

    async def drop(self, content_hashes: Iterable[str]) -> int:
        """Remove every entry (for any target) of these contents, such as media no stored turn
        refers to any more; return how many files went."""
        wanted = {h for h in content_hashes if _CONTENT_HASH.match(h)}
        if not wanted:
            return 0
        return await asyncio.to_thread(self._drop, wanted)

    async def idle_hashes(self, unused_for: float) -> list[str]:
        """Content hashes (sorted) none of whose entries was written or read in the last
        ``unused_for`` seconds."""
        return await asyncio.to_thread(self._idle_hashes, time.time() - unused_for)

    async def drop_idle(self, content_hashes: Iterable[str], unused_for: float) -> int:
        """Remove these contents' entries that are still unused for ``unused_for`` seconds (an
        entry written or read meanwhile stays); return how many files went."""
        wanted = {h for h in content_hashes if _CONTENT_HASH.match(h)}
        if not wanted:
            return 0
        return await asyncio.to_thread(self._drop, wanted, time.time() - unused_for)

    async def prune(self) -> int:
        """Drop expired entries and the least recently used past the size cap; return count."""
        return await asyncio.to_thread(self._prune)

    def _get(self, path: Path) -> PreparedMedia | None:
        try:
            age = time.time() - path.stat().st_mtime
            if age > self.max_age_seconds:
                path.unlink(missing_ok=True)
                return None
            media = _decode(path.read_text("utf-8"))
        except (OSError, ValueError, TypeError, KeyError):
            return None
        with contextlib.suppress(OSError):
            os.utime(path)  # mark as recently used
        return media

    def _put(self, path: Path, media: PreparedMedia) -> None:
        private_folder(self.folder)  # members' attachments: the entries are 0600 (mkstemp)
        # A private partial file per writer: processes caching the same content never
        # share one, and readers never see half an entry.
        fd, partial = tempfile.mkstemp(dir=self.folder, prefix=f"{path.name}.", suffix=".tmp")
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as out:
                out.write(_encode(media))
            os.replace(partial, path)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(partial)
            raise
        self._prune()

    def _entries(self) -> list[tuple[Path, os.stat_result]]:
        """Our own entries with their stats (files vanishing meanwhile are skipped)."""
        found = []
        try:
            names = os.listdir(self.folder)
        except OSError:
            return []
        now = time.time()
        for name in names:
            path = self.folder / name
            try:
                if _ENTRY_NAME.match(name):
                    found.append((path, path.stat()))
                elif _PARTIAL_NAME.match(name) and now - path.stat().st_mtime > _PARTIAL_MAX_AGE:
                    path.unlink()
            except OSError:
                continue
        return found

    def _drop(self, content_hashes: set[str], used_before: float = math.inf) -> int:
        removed = 0
        for path, info in self._entries():
            if path.name.partition("-")[0] in content_hashes and info.st_mtime < used_before:
                path.unlink(missing_ok=True)
                removed += 1
        return removed

    def _idle_hashes(self, used_before: float) -> list[str]:
        last_used: dict[str, float] = {}
        for path, info in self._entries():
            content_hash = path.name.partition("-")[0]
            last_used[content_hash] = max(info.st_mtime, last_used.get(content_hash, 0.0))
        return sorted(h for h, when in last_used.items() if when < used_before)

    def _prune(self) -> int:
        entries = self._entries()
        now = time.time()
        removed = 0
        kept = []
        for path, info in entries:
            if now - info.st_mtime > self.max_age_seconds:
                path.unlink(missing_ok=True)
                removed += 1
            else:
                kept.append((path, info))
        kept.sort(key=lambda entry: entry[1].st_mtime)
        total = sum(info.st_size for _, info in kept)
        for path, info in kept:
            if total <= self.max_bytes:
                break
            path.unlink(missing_ok=True)
            total -= info.st_size
            removed += 1
        return removed
