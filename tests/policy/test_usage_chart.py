"""Daily usage: days without usage filled in as zero, costs per day, and the PNG chart."""

from __future__ import annotations

import io
import time
from pathlib import Path

import pytest
from omnicord.errors import InputError
from omnicord.model.catalog import Price
from omnicord.policy.usage import (
    DayTotals,
    UsageLedger,
    UsageTotals,
    cost_text,
    last_days,
    money,
    overall,
    per_model,
    price_hint,
    unpriced,
)
from omnicord.policy.usage_chart import (
    BASE_WIDTH,
    MARGIN,
    MODEL_COLORS,
    WARNING,
    chart_layout,
    font,
    label_positions,
    nice_ceiling,
    render_usage_chart,
    summary,
)
from omnicord.store import SqliteStore
from omnicord.store.records import UsageRow
from PIL import Image

PRICED, UNPRICED = "qwen3-omni-30b-a3b-captioner", "qwen3-omni-flash"
TURBO = "qwen-omni-turbo"
FLASH_HINT = ("cost unknown for qwen3-omni-flash: set OMNICORD_PRICES=qwen3-omni-flash=IN/OUT "
              "(USD per million tokens)")


def days_of(tokens: list[int]) -> list[DayTotals]:
    return [DayTotals(day, UsageTotals(used, used // 4, used / 1e6))
            for day, used in zip(last_days(len(tokens), "2026-12-03"), tokens, strict=True)]


def opened(png: bytes) -> Image.Image:
    image = Image.open(io.BytesIO(png))
    image.load()
    return image


def test_last_days_end_today_oldest_first_across_a_month_end() -> None:
    assert last_days(3, "2026-03-01") == ["2026-02-27", "2026-02-28", "2026-03-01"]
    assert len(last_days(366)) == 366
    for bad in (0, 367):
        with pytest.raises(InputError, match="between 1 and 366"):
            last_days(bad)


async def test_daily_fills_days_without_usage_and_prices_each_day(tmp_path: Path) -> None:
    async with SqliteStore(tmp_path / "o.db") as store:
        for day, model, used in (("2026-12-01", PRICED, 1000), ("2026-12-01", PRICED, 500),
                                 ("2026-12-03", UNPRICED, 70), ("2026-11-20", PRICED, 9)):
            await store.add_usage(UsageRow(user_id="7", model=model, prompt_tokens=used,
                                           completion_tokens=1, guild_id="5", day=day))
        await store.add_usage(UsageRow(user_id="8", model=PRICED, prompt_tokens=5,
                                       completion_tokens=5, guild_id="6", day="2026-12-02"))
        ledger = UsageLedger(store, {PRICED: Price(2.0, 4.0)})
        mine = await ledger.daily(days=4, user_id="7", until_day="2026-12-03")
        bot = await ledger.daily(days=4, until_day="2026-12-03")
    assert [d.day for d in mine] == ["2026-11-30", "2026-12-01", "2026-12-02", "2026-12-03"]
    assert [d.totals.prompt_tokens for d in mine] == [0, 1500, 0, 70]
    assert mine[0].totals == UsageTotals(0, 0, 0.0)
    assert mine[1].totals.cost == pytest.approx((1500 * 2 + 2 * 4) / 1e6)
    assert mine[3].totals.cost is None  # no price known for that model
    assert overall(mine).total_tokens == 1573 and overall(mine).cost is None
    assert overall(mine[:3]).cost == pytest.approx(mine[1].totals.cost)
    assert [d.totals.total_tokens for d in bot] == [0, 1502, 10, 71]


def test_the_chart_is_a_png_of_the_preview_size_and_shows_its_data() -> None:
    started = time.perf_counter()
    png = render_usage_chart(days_of([0, 1200, 50, 0, 90_000] * 6), title="Your usage")
    assert time.perf_counter() - started < 10  # a few milliseconds in fact; bounded, not hung
    image = opened(png)
    assert image.format == "PNG" and image.size == (1200, 600)
    assert opened(render_usage_chart(days_of([5]), title="t", scale=1)).size == (600, 300)
    other = render_usage_chart(days_of([0, 1200, 50, 0, 90_000] * 5 + [0] * 5),
                               title="Your usage")
    assert other != png
    retitled = render_usage_chart(days_of([0, 1200, 50, 0, 90_000] * 6), title="Server usage")
    assert retitled != png
    # Bars are drawn: blurple (tokens in) fills part of the plot area.
    colours = {colour for _, colour in image.getcolors(maxcolors=1 << 16) or []}
    assert (88, 101, 242) in colours and (87, 242, 135) in colours


def test_no_usage_says_so_instead_of_drawing_empty_axes() -> None:
    empty = opened(render_usage_chart(days_of([0] * 30), title="Your usage"))
    colours = {colour for _, colour in empty.getcolors(maxcolors=1 << 16) or []}
    assert (88, 101, 242) not in colours  # no bars, and no legend for them
    assert empty.size == (1200, 600)
    # Its middle holds text ("No usage in the last 30 days"), not a blank card.
    middle = empty.crop((300, 250, 900, 350))
    assert len(middle.getcolors(maxcolors=1 << 16) or []) > 2


def test_a_years_chart_draws_in_bounded_time() -> None:
    started = time.perf_counter()
    image = opened(render_usage_chart(days_of(list(range(366))), title="A year"))
    assert time.perf_counter() - started < 10 and image.size == (1200, 600)
    with pytest.raises(ValueError, match="1 to 366 days"):
        render_usage_chart([], title="nothing")


def test_axis_helpers() -> None:
    assert nice_ceiling(20_349) == 24_000 and nice_ceiling(4) == 4 and nice_ceiling(0) == 4
    assert nice_ceiling(1_000_001) == 1_200_000
    assert label_positions(30) == [4, 9, 14, 19, 24, 29]  # the last bar (today) is labelled
    assert label_positions(1) == [0]


def colours(image: Image.Image) -> set[tuple[int, int, int]]:
    return {colour for _, colour in image.getcolors(maxcolors=1 << 16) or []}


def models_of(tokens: list[dict[str, int]]) -> list[DayTotals]:
    """Days of usage per model (tokens in; a tenth of that out); only the captioner priced."""
    days = []
    for day, used in zip(last_days(len(tokens), "2026-12-03"), tokens, strict=True):
        models = {model: UsageTotals(n, n // 10, (n * 3.81 + n // 10 * 3.06) / 1e6
                                     if model == PRICED else None)
                  for model, n in used.items() if n}
        days.append(DayTotals(day, sum(models.values(), UsageTotals(cost=0.0)), models))
    return days


def test_money_is_shown_in_cents_never_fractions_of_one() -> None:
    assert money(0) == "$0.00"
    assert money(0.0042) == money(0.0099) == money(1e-9) == "<$0.01"
    assert money(0.01) == "$0.01" and money(0.126) == "$0.13"
    assert money(1234.5) == "$1,234.50" and money(1_234_567.891) == "$1,234,567.89"
    assert cost_text(UsageTotals(5, 5, None)) == "cost unknown"
    assert cost_text(UsageTotals(5, 5, 0.0042)) == "cost <$0.01"
    line = summary(UsageTotals(1200, 120, 0.0042), 30)
    assert line == "1,320 tokens in the last 30 days (1,200 in, 120 out) · cost <$0.01"


def test_the_price_hint_names_each_model_without_a_price_once() -> None:
    assert price_hint([]) is None
    assert price_hint([UNPRICED, UNPRICED]) == FLASH_HINT
    assert price_hint([UNPRICED, TURBO], quote="`") == (
        f"cost unknown for {UNPRICED}, {TURBO}: set "
        f"`OMNICORD_PRICES={UNPRICED}=IN/OUT,{TURBO}=IN/OUT` (USD per million tokens)")
    days = models_of([{PRICED: 100, UNPRICED: 50}, {TURBO: 7}])
    assert list(per_model(days)) == [PRICED, UNPRICED, TURBO]  # the most tokens first
    assert unpriced(per_model(days)) == [UNPRICED, TURBO]


async def test_the_ledger_keeps_each_models_tokens_and_cost(tmp_path: Path) -> None:
    async with SqliteStore(tmp_path / "o.db") as store:
        for day, model, used in (("2026-12-01", PRICED, 1000), ("2026-12-01", UNPRICED, 300),
                                 ("2026-12-02", UNPRICED, 200), ("2026-12-02", PRICED, 10)):
            await store.add_usage(UsageRow(user_id="7", model=model, prompt_tokens=used,
                                           completion_tokens=1, day=day))
        ledger = UsageLedger(store, {PRICED: Price(2.0, 4.0)})
        days = await ledger.daily(days=2, until_day="2026-12-02")
        month = await ledger.by_model(since_day="2026-12-01", user_id="7")
    assert list(days[0].models) == [PRICED, UNPRICED]
    assert days[0].models[PRICED] == UsageTotals(1000, 1, pytest.approx((2000 + 4) / 1e6))
    assert days[0].models[UNPRICED] == UsageTotals(300, 1, None)
    assert list(days[1].models) == [UNPRICED, PRICED]  # the most tokens first, each day
    assert list(month) == list(per_model(days)) == [PRICED, UNPRICED]
    assert month[PRICED].cost == pytest.approx(per_model(days)[PRICED].cost)
    assert month[UNPRICED] == UsageTotals(500, 2, None)


def test_several_models_get_a_colour_and_a_legend_row_each() -> None:
    days = models_of([{PRICED: 900, UNPRICED: 2000, TURBO: 300}, {UNPRICED: 100}] * 15)
    layout = chart_layout(days, title="Your usage")
    rows = [row.label.text for row in layout.legend]
    assert rows == [f"{UNPRICED}: 34,650 tokens · cost unknown",
                    f"{PRICED}: 14,850 tokens · cost $0.06",
                    f"{TURBO}: 4,950 tokens · cost unknown"]
    assert [row.swatch.color for row in layout.legend] == list(MODEL_COLORS[:3])
    # Every bar is one model's share of a day, in that model's colour.
    assert {bar.color for bar in layout.bars} == set(MODEL_COLORS[:3])
    assert len(layout.bars) == 15 * 3 + 15
    hint = " ".join(t.text for t in layout.texts if t.color == WARNING)
    assert hint == price_hint([UNPRICED, TURBO])
    assert layout.plot is not None and layout.plot[1] > layout.legend[-1].swatch.rect[3]
    image = opened(render_usage_chart(days, title="Your usage"))
    assert image.size == (1200, 600)
    assert {*MODEL_COLORS[:3], WARNING} <= colours(image)


def test_one_model_keeps_in_and_out_and_says_how_to_price_it() -> None:
    layout = chart_layout(models_of([{UNPRICED: 500}, {UNPRICED: 0}, {UNPRICED: 80}]),
                          title="Your usage")
    assert [row.label.text for row in layout.legend] == ["in", "out"]
    assert FLASH_HINT in " ".join(t.text for t in layout.texts if t.color == WARNING)
    assert "cost unknown" in layout.strings()[1]
    priced = chart_layout(models_of([{PRICED: 500}]), title="Your usage")
    assert not [t for t in priced.texts if t.color == WARNING]
    assert priced.strings()[1].endswith("· cost <$0.01")


def test_every_text_fits_in_the_picture_even_with_long_numbers() -> None:
    big = {PRICED: 9_000_000, UNPRICED: 20_000_000, TURBO: 3_000_000,
           "qwen2.5-omni-7b": 50_000}  # every day for a year
    title = "Omnicord usage: member 123456789012345678 in server 123456789012345678"
    for scale, days in ((1, models_of([big] * 366)), (2, models_of([big] * 366)),
                        (2, models_of([{UNPRICED: 20_000_000}] * 366))):
        layout = chart_layout(days, title=title, scale=scale)
        beside = [row.swatch.rect[0] for row in layout.legend if row.label.text in ("in", "out")]
        for text in layout.texts + [row.label for row in layout.legend]:
            if text.anchor == "la":
                right = text.xy[0] + font(text.size).getlength(text.text)
                assert right <= (BASE_WIDTH - MARGIN) * scale, text.text
                if text.text == title:  # smaller, and clear of the "in"/"out" legend
                    assert text.size < 17 * scale and right < min(beside, default=right + 1)
    assert len(layout.legend) == 2
    layout = chart_layout(models_of([big] * 366), title=title)
    assert [row.label.text for row in layout.legend][1:2] == [
        f"{PRICED}: 3,623,400,000 tokens · cost $13,558.10"]
    assert chart_layout(models_of([big]), title="Short").texts[0].size == 34


def test_an_empty_chart_says_why_legibly() -> None:
    nothing = [DayTotals(day, UsageTotals(cost=0.0)) for day in last_days(30, "2026-12-03")]
    layout = chart_layout(nothing, title="Omnicord usage", empty="No usage yet")
    [note] = [t for t in layout.texts if t.text == "No usage yet"]
    assert note.size >= 32 and note.anchor == "mm"  # 16 px in Discord's preview
    assert layout.plot is None and layout.bars == [] and layout.legend == []
    said = render_usage_chart(nothing, title="Omnicord usage", empty="No usage yet")
    assert said != render_usage_chart(nothing, title="Omnicord usage")
    filled = render_usage_chart(days_of([5] * 30), title="Omnicord usage")
    image = opened(said)
    assert said != filled and image.size == (1200, 600)
    assert len(colours(image.crop((300, 250, 900, 350)))) > 2  # the note is drawn
