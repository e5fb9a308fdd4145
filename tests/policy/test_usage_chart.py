"""Daily usage: days without usage filled in as zero, costs per day, and the PNG chart."""

from __future__ import annotations

import io
import time
from pathlib import Path

import pytest
from omnicord.errors import InputError
from omnicord.model.catalog import Price
from omnicord.policy.usage import DayTotals, UsageLedger, UsageTotals, last_days, overall
from omnicord.policy.usage_chart import label_positions, nice_ceiling, render_usage_chart
from omnicord.store import SqliteStore
from omnicord.store.base import UsageRow
from PIL import Image

PRICED, UNPRICED = "qwen3-omni-30b-a3b-captioner", "qwen3-omni-flash"


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
    assert time.perf_counter() - started < 2  # a few milliseconds in fact
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
    assert time.perf_counter() - started < 2 and image.size == (1200, 600)
    with pytest.raises(ValueError, match="1 to 366 days"):
        render_usage_chart([], title="nothing")


def test_axis_helpers() -> None:
    assert nice_ceiling(20_349) == 24_000 and nice_ceiling(4) == 4 and nice_ceiling(0) == 4
    assert nice_ceiling(1_000_001) == 1_200_000
    assert label_positions(30) == [4, 9, 14, 19, 24, 29]  # the last bar (today) is labelled
    assert label_positions(1) == [0]
