"""Daily token usage drawn as a PNG bar chart (Pillow): tokens per UTC day, stacked input and
output (or, when several models were used, one colour per model with a legend row for each),
dates under the bars, the total and its cost in the headline, and how to give the prices that
are missing.

Laid out for Discord's image preview (about 600×300) and drawn at twice that by default so it
stays sharp on high-density screens. ``chart_layout`` computes everything drawn (pure data, so
the layout can be checked without reading pixels); ``render_usage_chart`` paints it. Drawing
costs a few milliseconds for any number of days up to ``MAX_DAYS``; nothing is read from disk
but Pillow's built-in font.
"""

from __future__ import annotations

import io
import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from functools import cache

from omnicord.policy.usage import (
    MAX_DAYS,
    DayTotals,
    UsageTotals,
    cost_text,
    overall,
    per_model,
    price_hint,
    unpriced,
)
from PIL import Image, ImageDraw, ImageFont

Font = ImageFont.FreeTypeFont | ImageFont.ImageFont
Color = tuple[int, int, int]
Rect = tuple[float, float, float, float]  # left, top, right, bottom

BASE_WIDTH, BASE_HEIGHT = 600, 300  # the layout's units; ``scale`` multiplies them
MARGIN = 16
ROW = 14  # height of a legend or hint row
BACKGROUND: Color = (43, 45, 49)  # Discord's dark message background
GRID: Color = (70, 73, 80)
TEXT: Color = (242, 243, 245)
MUTED: Color = (181, 186, 193)
WARNING: Color = (250, 168, 26)  # Discord's warning yellow: the missing prices
INPUT: Color = (88, 101, 242)  # blurple: tokens in
OUTPUT: Color = (87, 242, 135)  # green: tokens out
#: One colour per model, the most used first (cycled if there are ever more models).
MODEL_COLORS: tuple[Color, ...] = (INPUT, OUTPUT, (254, 231, 92), (235, 69, 158),
                                   (237, 66, 69), (0, 168, 252))


@dataclass(frozen=True)
class Text:
    """One piece of text: where (Pillow anchor), what, its size in pixels and colour."""

    xy: tuple[float, float]
    text: str
    size: int
    color: Color
    anchor: str = "la"


@dataclass(frozen=True)
class Box:
    """A filled rectangle."""

    rect: Rect
    color: Color


@dataclass(frozen=True)
class LegendRow:
    """A colour swatch and what it stands for."""

    swatch: Box
    label: Text


@dataclass
class Layout:
    """Everything a chart draws, in pixels."""

    size: tuple[int, int]
    texts: list[Text] = field(default_factory=list)
    legend: list[LegendRow] = field(default_factory=list)
    grid: list[Rect] = field(default_factory=list)  # lines, as (x0, y0, x1, y1)
    bars: list[Box] = field(default_factory=list)
    plot: Rect | None = None  # None: no usage, nothing plotted

    def strings(self) -> list[str]:
        """Every text drawn, legend labels included, in drawing order."""
        return [t.text for t in self.texts] + [row.label.text for row in self.legend]


@dataclass(frozen=True)
class Series:
    """One stacked layer of the bars: its name, colour and tokens per day."""

    name: str
    color: Color
    tokens: list[int]


def render_usage_chart(days: Sequence[DayTotals], *, title: str, scale: int = 2,
                       empty: str | None = None) -> bytes:
    """A PNG of ``days`` (oldest first): ``600·scale × 300·scale`` pixels (see
    ``chart_layout``)."""
    return paint(chart_layout(days, title=title, scale=scale, empty=empty))


def chart_layout(days: Sequence[DayTotals], *, title: str, scale: int = 2,
                 empty: str | None = None) -> Layout:
    """What the chart of ``days`` shows and where. With no usage at all it says so in the
    middle (``empty``, by default "No usage in the last N days") instead of empty axes."""
    if not 1 <= len(days) <= MAX_DAYS:
        raise ValueError(f"a chart shows 1 to {MAX_DAYS} days, not {len(days)}")
    layout = Layout((BASE_WIDTH * scale, BASE_HEIGHT * scale))
    total = overall(days)
    if total.total_tokens == 0:
        _title(layout, title, scale)
        note = empty or f"No usage in the last {_days(len(days))}"
        layout.texts.append(Text((layout.size[0] / 2, layout.size[1] / 2 + 12 * scale), note,
                                 16 * scale, MUTED, "mm"))
        return layout
    models = per_model(days)
    if len(models) > 1:
        _title(layout, title, scale)
        series = model_series(days, models)
    else:
        _title(layout, title, scale, beside=_in_out_legend(layout, scale))
        series = in_out_series(days)
    layout.texts.append(Text((MARGIN * scale, 36 * scale), summary(total, len(days)),
                             12 * scale, MUTED))
    y = _headline(layout, models, 54, scale)
    _plot(layout, days, series, y + 16, scale)
    return layout


def _title(layout: Layout, title: str, scale: int, beside: float | None = None) -> None:
    """The title, smaller if it would not fit (left of ``beside``, where the legend is)."""
    right = beside if beside is not None else (BASE_WIDTH - MARGIN) * scale
    size = fitting(title, right - (MARGIN + 8) * scale, 17 * scale)
    layout.texts.insert(0, Text((MARGIN * scale, 12 * scale), title, size, TEXT))


def summary(total: UsageTotals, count: int) -> str:
    """The line under the title: total tokens, in and out, and the cost."""
    return (f"{total.total_tokens:,} tokens in the last {_days(count)} "
            f"({total.prompt_tokens:,} in, {total.completion_tokens:,} out) · "
            f"{cost_text(total)}")


def fitting(text: str, width: float, size: int) -> int:
    """``size``, or the largest smaller one (down to two thirds of it) at which ``text`` fits
    ``width``."""
    smallest = size * 2 // 3
    while size > smallest and font(size).getlength(text) > width:
        size -= 1
    return size


def _days(count: int) -> str:
    return "day" if count == 1 else f"{count} days"


def _headline(layout: Layout, models: Mapping[str, UsageTotals], y: int, scale: int) -> int:
    """A legend row per model when there are several, then the price hint wrapped to the
    width; the base-unit height where the plot may begin."""
    if len(models) > 1:
        for index, (model, totals) in enumerate(models.items()):
            swatch = Box((MARGIN * scale, (y + 2) * scale, (MARGIN + 10) * scale,
                          (y + 12) * scale), MODEL_COLORS[index % len(MODEL_COLORS)])
            label = Text(((MARGIN + 16) * scale, y * scale), model_line(model, totals),
                         11 * scale, TEXT)
            layout.legend.append(LegendRow(swatch, label))
            y += ROW
    hint = price_hint(unpriced(models))
    if hint:
        for line in wrap(hint, (BASE_WIDTH - 2 * MARGIN) * scale, font(11 * scale)):
            layout.texts.append(Text((MARGIN * scale, y * scale), line, 11 * scale, WARNING))
            y += ROW
    return y


def model_line(model: str, totals: UsageTotals) -> str:
    """A model's legend row: its tokens and their cost."""
    return f"{model}: {totals.total_tokens:,} tokens · {cost_text(totals)}"


def wrap(text: str, width: float, face: Font) -> list[str]:
    """``text`` in lines no wider than ``width``: broken at spaces, and after the commas of a
    word too wide for a line by itself."""
    lines = [""]
    for word in _words(text, width, face):
        if lines[-1] and face.getlength(lines[-1] + word.rstrip()) > width:
            lines.append("")
        lines[-1] += word
    return [line.rstrip() for line in lines]


def _words(text: str, width: float, face: Font) -> list[str]:
    """The words of ``text`` with the spaces after them (a too wide one split after commas)."""
    words: list[str] = []
    for word in re.findall(r"\S+\s*", text):
        too_wide = face.getlength(word.rstrip()) > width
        words += re.findall(r"[^,]+,?\s*", word) if too_wide else [word]
    return words


def in_out_series(days: Sequence[DayTotals]) -> list[Series]:
    """Tokens in and out, stacked."""
    return [Series("in", INPUT, [day.totals.prompt_tokens for day in days]),
            Series("out", OUTPUT, [day.totals.completion_tokens for day in days])]


def model_series(days: Sequence[DayTotals], models: Mapping[str, UsageTotals]
                 ) -> list[Series]:
    """Each model's tokens, stacked, the most used at the bottom."""
    empty = UsageTotals()
    return [Series(model, MODEL_COLORS[index % len(MODEL_COLORS)],
                   [day.models.get(model, empty).total_tokens for day in days])
            for index, model in enumerate(models)]


def _in_out_legend(layout: Layout, scale: int) -> float:
    """"■ in ■ out" in the top right corner; where it begins."""
    small = font(11 * scale)
    x = (BASE_WIDTH - MARGIN) * scale
    for label, color in (("out", OUTPUT), ("in", INPUT)):
        x -= int(small.getlength(label))
        text = Text((x, 18 * scale), label, 11 * scale, MUTED)
        x -= 14 * scale
        swatch = Box((x, 20 * scale, x + 10 * scale, 30 * scale), color)
        layout.legend.insert(0, LegendRow(swatch, text))
        x -= 12 * scale
    return x + 12 * scale


def _plot(layout: Layout, days: Sequence[DayTotals], series: Sequence[Series], top_base: int,
          scale: int) -> None:
    """Grid with token labels, stacked bars and date labels."""
    left, right = 56 * scale, (BASE_WIDTH - MARGIN) * scale
    top, bottom = top_base * scale, (BASE_HEIGHT - 34) * scale
    layout.plot = (left, top, right, bottom)
    peak = nice_ceiling(max(day.totals.total_tokens for day in days))
    for step in range(5):  # grid lines and their token labels, 0 to the peak
        y = bottom - (bottom - top) * step / 4
        layout.grid.append((left, y, right, y))
        layout.texts.append(Text((left - 6 * scale, y), short_number(peak * step / 4),
                                 11 * scale, MUTED, "rm"))
    slot = (right - left) / len(days)
    gap = slot * 0.2 if slot >= 3 * scale else 0.0
    for index in range(len(days)):
        x0, x1 = left + index * slot + gap / 2, left + (index + 1) * slot - gap / 2
        base = float(bottom)
        for layer in series:
            height = _height(layer.tokens[index], peak, bottom - top, scale)
            if height:
                layout.bars.append(Box((x0, max(base - height, top), x1, base), layer.color))
                base -= height
    for index in label_positions(len(days)):
        layout.texts.append(Text((left + (index + 0.5) * slot, bottom + 6 * scale),
                                 short_date(days[index].day), 11 * scale, MUTED, "ma"))


def _height(tokens: int, peak: float, span: int, scale: int) -> float:
    """A bar's height: to scale, but at least a pixel (of the base layout) when not zero."""
    return 0.0 if tokens <= 0 else max(span * tokens / peak, float(scale))


def paint(layout: Layout) -> bytes:
    """The layout drawn as a PNG."""
    image = Image.new("RGB", layout.size, BACKGROUND)
    draw = ImageDraw.Draw(image)
    scale = layout.size[0] // BASE_WIDTH
    for x0, y0, x1, y1 in layout.grid:
        draw.line([(x0, y0), (x1, y1)], fill=GRID, width=scale)
    for box in [*layout.bars, *(row.swatch for row in layout.legend)]:
        draw.rectangle(box.rect, fill=box.color)
    for text in [*layout.texts, *(row.label for row in layout.legend)]:
        draw.text(text.xy, text.text, fill=text.color, font=font(text.size),
                  anchor=text.anchor)
    out = io.BytesIO()
    # zlib's default level: ``optimize`` made files 4% smaller but drawing 3 to 4 times slower
    image.save(out, "PNG")
    return out.getvalue()


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
