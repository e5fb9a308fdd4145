"""``omnicord usage``: an operator's table of tokens and cost per UTC day, and its chart."""

from __future__ import annotations

import io
import stat
from datetime import UTC, datetime, timedelta
from pathlib import Path

from omnicord.store import SqliteStore
from omnicord.store.records import UsageRow
from PIL import Image

from tests.conftest import run_cli

PRICED = "qwen3-omni-30b-a3b-captioner"  # the vendor's prices are built in
UNPRICED = "qwen3-omni-flash"
HINT = ("cost unknown for qwen3-omni-flash: set OMNICORD_PRICES=qwen3-omni-flash=IN/OUT "
        "(USD per million tokens)")


def day(back: int) -> str:
    return (datetime.now(UTC).date() - timedelta(days=back)).isoformat()


async def fill(path: Path) -> None:
    async with SqliteStore(path) as store:
        for back, user, guild, model, used in (
                (0, "7", "5", PRICED, 1200), (2, "8", "6", PRICED, 300),
                (2, "7", "5", PRICED, 100), (9, "7", "5", PRICED, 5000),
                (3, "9", "6", UNPRICED, 50)):
            await store.add_usage(UsageRow(user_id=user, model=model, prompt_tokens=used,
                                           completion_tokens=used // 10, guild_id=guild,
                                           day=day(back)))


def rows(stdout: str) -> dict[str, list[str]]:
    """The daily table's rows by date (and ``total``)."""
    daily = stdout.split("\n\n")[0]
    return {line.split()[0]: line.split()[1:] for line in daily.splitlines()[1:]}


def model_rows(stdout: str) -> dict[str, list[str]]:
    """The table per model (printed when several models were used), by model."""
    _, _, models = stdout.partition("\n\n")
    lines = models.splitlines()
    assert not lines or lines[0].split() == ["model", "tokens", "in", "tokens", "out", "cost"]
    return {line.split()[0]: line.split()[1:] for line in lines[1:]}


def png(path: Path) -> Image.Image:
    image = Image.open(io.BytesIO(path.read_bytes()))
    image.load()
    assert image.format == "PNG" and image.size == (1200, 600)
    return image


async def test_usage_prints_each_day_and_writes_the_chart(
        cli_env: dict[str, str], tmp_path: Path) -> None:
    await fill(tmp_path / "omnicord.db")
    result = run_cli(["usage", "--days", "7", "--png", "out.png"], cli_env, tmp_path)
    assert result.returncode == 0, result.stderr
    table = rows(result.stdout)
    assert list(table) == [day(back) for back in range(6, -1, -1)] + ["total"]  # oldest first
    assert table[day(0)] == ["1,200", "120", "<$0.01"]  # $0.0049: never fractions of a cent
    assert table[day(2)][:2] == ["400", "40"]
    assert table[day(1)] == ["0", "0", "$0.00"]  # days without usage are listed as 0
    assert table[day(3)] == ["50", "5", "—"]  # no price known for that model
    assert table["total"] == ["1,650", "165", "—"]  # the 9-day-old row is outside 7 days
    assert "chart written to out.png" in result.stderr
    with Image.open(tmp_path / "out.png") as chart:
        assert chart.format == "PNG" and chart.size == (1200, 600)
    member = run_cli(["usage", "--days", "3", "--member", "8"], cli_env, tmp_path)
    assert rows(member.stdout)["total"][:2] == ["300", "30"]
    server = run_cli(["usage", "--days", "30", "--guild", "5"], cli_env, tmp_path)
    assert rows(server.stdout)["total"][:2] == ["6,300", "630"]


async def test_usage_refuses_bad_input_in_one_line(
        cli_env: dict[str, str], tmp_path: Path) -> None:
    nothing = run_cli(["usage"], cli_env, tmp_path)
    assert nothing.returncode == 0 and "no usage to show" in nothing.stderr
    await fill(tmp_path / "omnicord.db")
    for args, reason in ((["--days", "0"], "between 1 and 366"),
                         (["--guild", "abc"], "digits only"),
                         (["--png", "missing/out.png"], "folder does not exist")):
        result = run_cli(["usage", *args], cli_env, tmp_path)
        assert result.returncode == 2 and reason in result.stderr, result.stderr
        assert result.stderr.count("\n") == 1 and result.stdout == ""


async def test_usage_png_without_a_database_is_an_empty_chart_saying_so(
        cli_env: dict[str, str], tmp_path: Path) -> None:
    result = run_cli(["usage", "--days", "7", "--png", "none.png"], cli_env, tmp_path)
    assert result.returncode == 0, result.stderr
    assert "no usage to show" in result.stderr and "chart written to none.png" in result.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["none.png"]  # no database made
    assert stat.S_IMODE((tmp_path / "none.png").stat().st_mode) == 0o600
    empty = png(tmp_path / "none.png")
    assert len(empty.crop((300, 250, 900, 350)).getcolors(maxcolors=1 << 16) or []) > 2
    await fill(tmp_path / "omnicord.db")
    filled = run_cli(["usage", "--days", "7", "--png", "some.png"], cli_env, tmp_path)
    assert filled.returncode == 0, filled.stderr
    assert png(tmp_path / "some.png").tobytes() != empty.tobytes()


async def test_usage_splits_by_model_and_says_once_how_to_price_one(
        cli_env: dict[str, str], tmp_path: Path) -> None:
    await fill(tmp_path / "omnicord.db")
    result = run_cli(["usage", "--days", "7"], cli_env, tmp_path)
    assert result.returncode == 0, result.stderr
    assert model_rows(result.stdout) == {PRICED: ["1,600", "160", "<$0.01"],
                                         UNPRICED: ["50", "5", "—"]}
    assert result.stderr.count("cost unknown") == 1 and f"omnicord: {HINT}\n" in result.stderr
    priced = run_cli(["usage", "--days", "7"],
                     cli_env | {"OMNICORD_PRICES": f"{UNPRICED}=1000/2000"}, tmp_path)
    assert priced.returncode == 0 and "cost unknown" not in priced.stderr
    assert model_rows(priced.stdout)[UNPRICED] == ["50", "5", "$0.06"]
    assert rows(priced.stdout)["total"] == ["1,650", "165", "$0.07"]
    one = run_cli(["usage", "--days", "3", "--member", "8"], cli_env, tmp_path)
    assert model_rows(one.stdout) == {} and "cost unknown" not in one.stderr
