"""The core pieces behind the cogs: splitting, waveforms, preferences, usage, pacing, CDN."""

from __future__ import annotations

import math
import struct
from pathlib import Path

import pytest
from omnicord.cogs.access.cdn import check_cdn_url
from omnicord.cogs.delivery.pacing import EditPacer
from omnicord.cogs.delivery.split import split_message
from omnicord.cogs.delivery.waveform import MAX_POINTS, waveform_from_pcm
from omnicord.errors import InputError, MediaError
from omnicord.model.catalog import find_model
from omnicord.policy.preferences import (
    Defaults,
    GuildPreferences,
    MemberPreferences,
    ReplyMode,
    SettingRefused,
    check_guild_change,
    check_member_change,
    resolve,
)
from omnicord.policy.throttle import Busy, ConcurrencyLimit, Cooldown
from omnicord.policy.usage import OverDailyCap, UsageLedger, parse_prices
from omnicord.store import SqliteStore
from omnicord.store.sqlite.limits import MemoryLimits

DEFAULTS = Defaults(model="qwen3-omni-flash", voice="Cherry")


def test_short_text_is_one_message() -> None:
    assert split_message("hello") == ["hello"]


def test_5000_characters_split_on_paragraphs() -> None:
    paragraphs = [f"Paragraph {i}. " + "word " * 150 for i in range(7)]
    text = "\n\n".join(paragraphs)
    assert len(text) > 5000
    pieces = split_message(text)
    assert len(pieces) >= 3
    assert all(len(p) <= 2000 for p in pieces)
    assert all(p.rstrip().endswith("word") for p in pieces)  # cut at paragraph ends
    assert "".join(p.replace("\n", "") for p in pieces) == text.replace("\n", "")


def test_code_fences_are_closed_and_reopened() -> None:
    code = "\n".join(f"print({i})  # step {i}" for i in range(300))
    text = f"Here you go:\n\n```python\n{code}\n```\n\nDone."
    pieces = split_message(text)
    assert len(pieces) > 2
    for piece in pieces:
        assert len(piece) <= 2000
        assert piece.count("```") % 2 == 0
    assert pieces[1].startswith("```python\n")
    assert pieces[-1].endswith("Done.")


def sine_pcm(seconds: float, rate: int = 24_000) -> bytes:
    count = int(seconds * rate)
    envelope = [math.sin(math.pi * i / count) for i in range(count)]
    return b"".join(struct.pack("<h", int(20_000 * envelope[i] * math.sin(i / 5)))
                    for i in range(count))


def test_waveform_follows_loudness() -> None:
    wave = waveform_from_pcm(sine_pcm(2.0))
    assert len(wave) == MAX_POINTS
    assert max(wave) == 255
    assert wave[len(wave) // 2] > wave[2] and wave[len(wave) // 2] > wave[-3]
    assert waveform_from_pcm(b"\x00\x00" * 10) == bytes(10)
    assert waveform_from_pcm(b"") == b"\x00"


def test_member_over_server_over_defaults() -> None:
    guild = GuildPreferences(model="qwen-omni-turbo", voice="Serena",
                             reply_mode=ReplyMode.BOTH)
    effective = resolve(DEFAULTS, guild, MemberPreferences(voice="Chelsie"))
    assert (effective.model.name, effective.voice, effective.reply_mode) == (
        "qwen-omni-turbo", "Chelsie", ReplyMode.BOTH)
    assert resolve(DEFAULTS, GuildPreferences(), MemberPreferences()).voice == "Cherry"
    # a member voice the server's model lacks falls back instead of failing a reply
    assert resolve(DEFAULTS, guild, MemberPreferences(voice="Nofish")).voice == "Serena"


def test_auto_replies_speak_only_to_voice_notes() -> None:
    effective = resolve(DEFAULTS, GuildPreferences(), MemberPreferences())
    assert effective.speaks(member_sent_voice=True)
    assert not effective.speaks(member_sent_voice=False)
    voice_only = resolve(DEFAULTS, GuildPreferences(reply_mode=ReplyMode.VOICE),
                         MemberPreferences())
    assert voice_only.speaks(member_sent_voice=False)
    assert not voice_only.shows_text(member_sent_voice=False)
    thinking = resolve(DEFAULTS, GuildPreferences(thinking=True), MemberPreferences())
    assert not thinking.speaks(member_sent_voice=True)


@pytest.mark.parametrize(
    ("current", "change", "reason"),
    [
        (GuildPreferences(), GuildPreferences(voice="Serena"), "has no voice 'Serena'"),
        (GuildPreferences(), GuildPreferences(model="gpt-4o"), "Unknown chat model"),
        (GuildPreferences(reply_mode=ReplyMode.VOICE), GuildPreferences(thinking=True),
         "text only"),
        (GuildPreferences(model="qwen-omni-turbo"), GuildPreferences(thinking=True),
         "no thinking mode"),
        (GuildPreferences(), GuildPreferences(daily_token_cap=-5), "negative"),
    ],
)
def test_invalid_server_changes_are_refused(current, change, reason: str) -> None:
    with pytest.raises(InputError, match=reason):  # SettingRefused, or an unknown model
        check_guild_change(DEFAULTS, current, change)


def test_member_changes_are_checked_against_the_server() -> None:
    turbo = resolve(DEFAULTS, GuildPreferences(model="qwen-omni-turbo"), MemberPreferences())
    with pytest.raises(SettingRefused, match="choose from Cherry, Serena, Ethan, Chelsie"):
        check_member_change(turbo, MemberPreferences(voice="Rocky"))
    assert check_member_change(turbo, MemberPreferences(voice="serena")).voice == "Serena"
    thinking = resolve(DEFAULTS, GuildPreferences(thinking=True), MemberPreferences())
    with pytest.raises(SettingRefused, match="thinking"):
        check_member_change(thinking, MemberPreferences(reply_mode=ReplyMode.VOICE))


async def test_preferences_and_usage_persist(tmp_path: Path) -> None:
    async with SqliteStore(tmp_path / "p.db") as store:
        prefs = store.preferences
        await prefs.save_guild("1", GuildPreferences(model="qwen-omni-turbo", thinking=False,
                                                     daily_token_cap=100))
        await prefs.save_member("1", "9", MemberPreferences(voice="Ethan",
                                                            reply_mode=ReplyMode.TEXT))
        await prefs.set_channel_role("1", "55", "chat", True)
        await prefs.set_channel_role("1", "55", "auto_caption", True)
        await prefs.set_channel_role("1", "55", "chat", False)
        ledger = UsageLedger(store)
        await ledger.record(user_id="9", model="qwen3-omni-30b-a3b-captioner", prompt_tokens=60,
                            completion_tokens=50, guild_id="1")
    async with SqliteStore(tmp_path / "p.db") as store:
        prefs = store.preferences
        assert (await prefs.guild("1")).daily_token_cap == 100
        assert (await prefs.member("1", "9")).reply_mode is ReplyMode.TEXT
        assert not await prefs.channel_role("55", "chat")
        assert await prefs.channel_role("55", "auto_caption")
        assert await prefs.channels_with("1", "auto_caption") == ["55"]
        ledger = UsageLedger(store)
        totals = await ledger.totals(since_day="2000-01-01", user_id="9")
        assert totals.total_tokens == 110
        assert totals.cost == pytest.approx((60 * 3.81 + 50 * 3.06) / 1e6)
        await ledger.check_cap("9", 200)
        with pytest.raises(OverDailyCap, match="100 tokens for today"):
            await ledger.check_cap("9", 100)
        await ledger.record(user_id="9", model="qwen3-omni-flash", prompt_tokens=1,
                            completion_tokens=1)
        assert (await ledger.totals(since_day="2000-01-01", user_id="9")).cost is None


def test_prices_setting() -> None:
    prices = parse_prices("qwen3-omni-flash=0.5/2, qwen-omni-turbo-latest=0.1/0.4")
    assert prices["qwen3-omni-flash"].output_per_million == 2
    assert "qwen-omni-turbo" in prices
    with pytest.raises(ValueError, match="model=input/output"):
        parse_prices("qwen3-omni-flash=cheap")


async def test_pacing_cooldown_and_concurrency() -> None:
    now = [100.0]
    pacer = EditPacer(1.0, clock=lambda: now[0])
    assert pacer.ready(1)
    pacer.mark(1)
    assert not pacer.ready(1) and pacer.ready(2)
    now[0] += 0.4
    assert pacer.wait_time(1) == pytest.approx(0.6)
    now[0] += 0.6
    assert pacer.ready(1)
    cooldown = Cooldown(3, MemoryLimits(clock=lambda: now[0]))
    await cooldown.hit("a")
    with pytest.raises(Busy, match="wait 3 s"):
        await cooldown.hit("a")
    await cooldown.hit("b")
    now[0] += 3
    await cooldown.hit("a")


async def test_concurrency_limit_per_server() -> None:
    limit = ConcurrencyLimit(1)
    async with limit.slot("g1"):
        with pytest.raises(Busy):
            async with limit.slot("g1"):
                pass
        async with limit.slot("g2"):
            pass
    async with limit.slot("g1"):
        pass


@pytest.mark.parametrize(
    ("url", "allowed"),
    [
        ("https://cdn.discordapp.com/attachments/1/2/a.png", True),
        ("https://media.discordapp.net/attachments/1/2/a.png?width=100", True),
        ("http://cdn.discordapp.com/attachments/1/2/a.png", False),
        ("https://cdn.discordapp.com.evil.example/a.png", False),
        ("https://example.com/a.png", False),
        ("file:///etc/passwd", False),
    ],
)
def test_only_discords_cdn_is_fetched(url: str, allowed: bool) -> None:
    if allowed:
        check_cdn_url(url)
    else:
        with pytest.raises(MediaError, match="Discord's own servers"):
            check_cdn_url(url)


def test_model_table_is_used_for_voices() -> None:
    assert find_model("qwen-omni-turbo").find_voice("serena").name == "Serena"
