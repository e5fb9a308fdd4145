"""Thinning a list of frames evenly: a video's or an animation's pictures made fewer (or
repeated) while still covering the whole length."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import TypeVar

T = TypeVar("T")


def spread(items: Sequence[T], count: int) -> list[T]:
    """``count`` items taken evenly from ``items``, each from the middle of its share (some
    repeated when there are too few)."""
    return [items[(2 * i + 1) * len(items) // (2 * count)] for i in range(count)]


def fewer(items: Sequence[T], share: float, *, minimum: int, factor: int = 1
          ) -> list[T] | None:
    """About ``share`` of ``items``, evenly chosen: fewer than now, a multiple of ``factor``
    and at least ``minimum``; None when there are ``minimum`` or fewer already."""
    if len(items) <= minimum:
        return None
    count = min(len(items) - 1, math.floor(len(items) * share))
    return spread(items, max(minimum, count - count % factor))
