"""Daily token usage drawn as a PNG bar chart (Pillow): input and output tokens stacked per
UTC day, dates under the bars, the total and its cost in the title.

Laid out for Discord's image preview (about 600×300) and drawn at twice that by default so it
stays sharp on high-density screens. Drawing costs a few milliseconds for any number of days
up to ``MAX_DAYS``; nothing is read from disk but Pillow's built-in font.
"""

from __future__ import annotations

import io
import math
from collections.abc import Sequence
from datetime import date
from functools import cache

from omnicord.policy.usage import MAX_DAYS, DayTotals, UsageTotals, overall
from PIL import Image, ImageDraw, ImageFont

Font = ImageFont.FreeTypeFont | ImageFont.ImageFont
Color = tuple[int, int, int]

BASE_WIDTH, BASE_HEIGHT = 600, 300  # the layout's units; ``scale`` multiplies them
BACKGROUND: Color = (43, 45, 49)  # Discord's dark message background
GRID: Color = (70, 73, 80)
TEXT: Color = (242, 243, 245)
MUTED: Color = (181, 186, 193)
INPUT: Color = (88, 101, 242)  # blurple: tokens in
OUTPUT: Color = (87, 242, 135)  # green: tokens out


def render_usage_chart(days: Sequence[DayTotals], *, title: str, scale: int = 2) -> bytes:
    """A PNG of ``days`` (oldest first): ``600·scale × 300·scale`` pixels.

    With no usage at all it says so ("No usage in the last N days") instead of empty axes.
    """
    if not 1 <= len(days) <= MAX_DAYS:
        raise ValueError(f"a chart shows 1 to {MAX_DAYS} days, not {len(days)}")
    image = Image.new("RGB", (BASE_WIDTH * scale, BASE_HEIGHT * scale), BACKGROUND)
    draw = ImageDraw.Draw(image)
    total = overall(days)
    draw.text((16 * scale, 12 * scale), title, fill=TEXT, font=font(17 * scale))
    if total.total_tokens == 0:
        draw.text((image.width // 2, image.height // 2 + 12 * scale),
                  f"No usage in the last {_days(len(days))}", fill=MUTED,
                  font=font(16 * scale), anchor="mm")
    else:
        draw.text((16 * scale, 36 * scale), summary(total, len(days)), fill=MUTED,
                  font=font(12 * scale))
        _bars(draw, days, scale)
    out = io.BytesIO()
    image.save(out, "PNG", optimize=True)
    return out.getvalue()


def summary(total: UsageTotals, count: int) -> str:
    """The line under the title: total tokens, in and out, and the cost where known."""
    cost = f" · about ${total.cost:,.4f}" if total.cost is not None else ""
    return (f"{total.total_tokens:,} tokens in the last {_days(count)} "
            f"({total.prompt_tokens:,} in, {total.completion_tokens:,} out){cost}")


def _days(count: int) -> str:
    return "day" if count == 1 else f"{count} days"


def _bars(draw: ImageDraw.ImageDraw, days: Sequence[DayTotals], scale: int) -> None:
    """Axes, grid, stacked bars, date labels and the legend."""
    left, right = 56 * scale, (BASE_WIDTH - 16) * scale
    top, bottom = 70 * scale, (BASE_HEIGHT - 34) * scale
    peak = nice_ceiling(max(day.totals.total_tokens for day in days))
    small = font(11 * scale)
    for step in range(5):  # grid lines and their token labels, 0 to the peak
        y = bottom - (bottom - top) * step / 4
        draw.line([(left, y), (right, y)], fill=GRID, width=scale)
        draw.text((left - 6 * scale, y), short_number(peak * step / 4), fill=MUTED, font=small,
                  anchor="rm")
    slot = (right - left) / len(days)
    gap = max(slot * 0.2, 0.0) if slot >= 3 * scale else 0.0
    for index, day in enumerate(days):
        x0, x1 = left + index * slot + gap / 2, left + (index + 1) * slot - gap / 2
        used_in = _height(day.totals.prompt_tokens, peak, bottom - top, scale)
        used_out = _height(day.totals.completion_tokens, peak, bottom - top, scale)
        if used_in:
            draw.rectangle([(x0, bottom - used_in), (x1, bottom)], fill=INPUT)
        if used_out:
            draw.rectangle([(x0, bottom - used_in - used_out), (x1, bottom - used_in)],
                           fill=OUTPUT)
    for index in label_positions(len(days)):
        x = left + (index + 0.5) * slot
        draw.text((x, bottom + 6 * scale), short_date(days[index].day), fill=MUTED, font=small,
                  anchor="ma")
    _legend(draw, right, scale)


def _height(tokens: int, peak: float, span: int, scale: int) -> float:
    """A bar's height: to scale, but at least a pixel (of the base layout) when not zero."""
    return 0.0 if tokens <= 0 else max(span * tokens / peak, float(scale))


def _legend(draw: ImageDraw.ImageDraw, right: int, scale: int) -> None:
    small = font(11 * scale)
    x = right
    for label, color in (("out", OUTPUT), ("in", INPUT)):
        width = draw.textlength(label, font=small)
        x -= int(width)
        draw.text((x, 18 * scale), label, fill=MUTED, font=small)
        x -= 14 * scale
        draw.rectangle([(x, 20 * scale), (x + 10 * scale, 30 * scale)], fill=color)
        x -= 12 * scale


def nice_ceiling(value: float) -> float:
    """The smallest round number (1, 1.5, 2, 2.5, 3, 4, 5, 6 or 8 × 10ⁿ, times 4 for the four
    grid steps) at or above ``value``."""
    if value <= 0:
        return 4.0
    quarter = value / 4
    power = 10 ** math.floor(math.log10(quarter))
    for step in (1, 1.5, 2, 2.5, 3, 4, 5, 6, 8, 10):
        if step * power >= quarter:
            return step * power * 4
    return 10 * power * 4  # unreachable: 10 × power always covers ``quarter``


def short_number(value: float) -> str:
    """``1.5k``, ``20k``, ``3.2M``: token counts for an axis."""
    for limit, suffix in ((1e9, "B"), (1e6, "M"), (1e3, "k")):
        if value >= limit:
            scaled = value / limit
            return f"{scaled:.1f}".rstrip("0").rstrip(".") + suffix
    return f"{value:.0f}"


def short_date(day: str) -> str:
    """``Dec 3`` from ``2026-12-03``."""
    parsed = date.fromisoformat(day)
    return f"{parsed:%b} {parsed.day}"


def label_positions(count: int, most: int = 6) -> list[int]:
    """Which of ``count`` bars get a date: evenly spaced, always the last (today)."""
    step = max(1, math.ceil(count / most))
    return sorted({*range(count - 1, -1, -step)})


@cache
def font(size: int) -> Font:
    """Pillow's built-in font at ``size`` pixels (its bitmap font without FreeType)."""
    try:
        return ImageFont.load_default(size=size)
    except (TypeError, ValueError, OSError):  # no FreeType: fixed-size bitmap font
        return ImageFont.load_default()
