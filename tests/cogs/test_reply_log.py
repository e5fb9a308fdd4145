"""What a running bot logs: one INFO line per reply (where, who, model, media, tokens,
timings; never the words), one WARNING per refusal with its reason, an ERROR with its
traceback for the unexpected."""

from __future__ import annotations

import io
import logging
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from omnicord.logs import configure_logging
from omnicord.pseudonyms import member_tag

from tests.doubles.fake_dashscope import FakeDashScope
from tests.doubles.media import image
from tests.doubles.omnicord_bot import World, ogg_voice_note, running_world
from tests.doubles.omnicord_bot import world as world

LINE = re.compile(r"reply scope=(?P<scope>\S+) member=(?P<member>~[0-9a-f]{8}) "
                  r"model=(?P<model>\S+) media=(?P<media>\S+) "
                  r"tokens=(?P<input>\d+)/(?P<output>\d+) first_text=(?P<first>\d+\.\d\d)s "
                  r"total=(?P<total>\d+\.\d\d)s")


def reply_lines(caplog: pytest.LogCaptureFixture) -> list[re.Match[str]]:
    found = [r for r in caplog.records if r.getMessage().startswith("reply ")]
    assert all(r.levelno == logging.INFO and r.name == "omnicord.reply" for r in found)
    return [m for r in found if (m := LINE.fullmatch(r.getMessage())) is not None]


async def test_one_info_line_per_reply_with_its_fields(
    world: World, caplog: pytest.LogCaptureFixture, tmp_path: Path
) -> None:
    caplog.set_level(logging.INFO, logger="omnicord")
    png = image(tmp_path / "cat.png", 64, 48).read_bytes()
    question = await world.ask("a secret question", attachments=[
        world.h.attachment("cat.png", png, content_type="image/png")])
    (line,) = reply_lines(caplog)
    assert line["scope"] == f"chain:{world.channel.id}:{question.id}"  # a mention's own chain
    assert line["member"] == member_tag(world.member.id)
    assert line["model"] == "qwen3-omni-flash"
    assert line["media"] == "image"
    store = world.bot._omnicord_runtime.services.store  # type: ignore[attr-defined]
    (turn,), _ = await store.recall(line["scope"], limit=5)
    assert turn.usage and int(line["input"]) == turn.usage["prompt_tokens"] > 0
    assert int(line["output"]) == turn.usage["completion_tokens"] > 0
    assert 0 <= float(line["first"]) <= float(line["total"]) < 20
    assert all("secret question" not in r.getMessage() for r in caplog.records)
    await world.ask("and without a picture")
    assert [m["media"] for m in reply_lines(caplog)] == ["image", "none"]


async def test_a_refusal_is_one_warning_with_its_reason(
    dashscope: FakeDashScope, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="omnicord")
    async with running_world(dashscope, tmp_path, OMNICORD_COOLDOWN_SECONDS=60) as world:
        await world.ask("first question")
        await world.ask("too soon, my friend")
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING
                and r.name.startswith("omnicord")]
    (warning,) = warnings
    text = warning.getMessage()
    assert text.startswith("refused reply to ") and ": Busy: please wait" in text
    assert f"for member {member_tag(world.member.id)}: " in text
    assert "too soon" not in text and warning.exc_info is None
    assert len(reply_lines(caplog)) == 1


async def test_an_unexpected_error_is_logged_with_its_traceback(
    world: World, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def broken(*args: object, **kwargs: object) -> None:
        raise RuntimeError("something nobody planned for")

    conversations = world.bot._omnicord_runtime.services.conversations  # type: ignore[attr-defined]
    monkeypatch.setattr(conversations, "respond", broken)
    await world.ask("hello")
    (error,) = [r for r in caplog.records if r.levelno == logging.ERROR]
    assert error.exc_info is not None and "something nobody planned" in error.exc_text
    assert world.texts()[-1].startswith("⚠️ Something went wrong on my side")


CAPTION_LINE = re.compile(
    r"caption scope=(?P<scope>\S+) member=(?P<member>~[0-9a-f]{8}) model=(?P<model>\S+) "
    r"mode=(?P<mode>transcript|description) seconds=(?P<seconds>\d+\.\d) "
    r"tokens=(?P<input>\d+)/(?P<output>\d+) total=(?P<total>\d+\.\d\d)s")


def caption_lines(caplog: pytest.LogCaptureFixture) -> list[re.Match[str]]:
    found = [r for r in caplog.records if r.getMessage().startswith("caption ")]
    assert all(r.levelno == logging.INFO and r.name == "omnicord.caption" for r in found)
    matched = [m for r in found if (m := CAPTION_LINE.fullmatch(r.getMessage())) is not None]
    assert len(matched) == len(found)
    return matched


async def test_one_info_line_per_caption_and_per_transcript(
    world: World, caplog: pytest.LogCaptureFixture, tmp_path: Path
) -> None:
    caplog.set_level(logging.INFO, logger="omnicord")
    interaction = world.h.slash(world.channel, world.admin, "omni-admin caption-channel",
                                {"enabled": True, "mode": "both"})
    await world.h.settle()
    assert world.fake.interaction_responses(interaction["token"])
    world.h.voice_message(world.channel, world.member, ogg_voice_note(tmp_path, 3),
                          duration=3.0)
    await world.h.settle(timeout=30)
    transcript, description = caption_lines(caplog)
    assert [transcript["mode"], description["mode"]] == ["transcript", "description"]
    assert transcript["model"] == "qwen3-omni-flash"
    assert description["model"] == "qwen3-omni-30b-a3b-captioner"
    store = world.bot._omnicord_runtime.services.store  # type: ignore[attr-defined]
    usage = {model: (p, c) for model, p, c in await store.usage_by_model(
        since_day="2000-01-01", user_id=str(world.member.id))}
    for line in (transcript, description):
        assert line["scope"] == f"channel:{world.channel.id}"
        assert line["member"] == member_tag(world.member.id)
        assert float(line["seconds"]) == pytest.approx(3.0, abs=0.1)
        assert (int(line["input"]), int(line["output"])) == usage[line["model"]]
        assert int(line["input"]) > 0 and 0 <= float(line["total"]) < 20
    assert not any("Hello, this is a recording" in r.getMessage() or "steady tone" in
                   r.getMessage() for r in caplog.records)  # never the words
    upload = world.h.attachment("memo.ogg", ogg_voice_note(tmp_path, 2), content_type="audio/ogg")
    world.h.slash(world.channel, world.member, "omni transcribe", {"file": upload})
    await world.h.settle(timeout=20)
    *_, asked = caption_lines(caplog)
    assert (asked["mode"], asked["seconds"]) == ("transcript", "2.0")
    assert len(caption_lines(caplog)) == 3 and not reply_lines(caplog)


@pytest.fixture
def debug_log(tmp_path: Path) -> Iterator[Path]:
    """Omnicord's logging at DEBUG into a file (the root logger restored afterwards)."""
    root, ours = logging.getLogger(), logging.getLogger("omnicord")
    before, levels = list(root.handlers), (root.level, ours.level)
    path = tmp_path / "logs" / "omnicord.log"
    configure_logging("DEBUG", path, stream=io.StringIO())
    yield path
    for handler in [h for h in root.handlers if h not in before]:
        root.removeHandler(handler)
        handler.close()
    root.setLevel(levels[0])
    ours.setLevel(levels[1])


def records(path: Path) -> list[tuple[str, str]]:
    """(level, text) of each record in a log file, continuation lines included."""
    found: list[tuple[str, str]] = []
    for line in path.read_text("utf-8").splitlines():
        head = re.match(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3} (\w+) ", line)
        if head:
            found.append((head[1], line))
        else:
            found[-1] = (found[-1][0], f"{found[-1][1]}\n{line}")
    return found


async def test_at_debug_the_log_holds_no_content_and_ids_only_in_debug_lines(
    world: World, debug_log: Path, tmp_path: Path
) -> None:
    marker = "quokkaviolet"
    png = image(tmp_path / "cat.png", 64, 48).read_bytes()
    await world.ask(f"what does {marker} look like?", attachments=[
        world.h.attachment(f"{marker}-photo.png", png, content_type="image/png")])
    (reply,) = [t for t in world.texts() if marker in t]  # the model's reply quotes it
    for handler in logging.getLogger().handlers:
        handler.flush()
    written = debug_log.read_text("utf-8")
    assert "discord.http" in written and "openai._base_client" in written  # library chatter
    assert marker not in written and reply not in written
    member = str(world.member.id)
    naming = [level for level, text in records(debug_log) if member in text]
    assert naming and set(naming) == {"DEBUG"}
    replies = [text for level, text in records(debug_log) if " reply scope=" in text]
    assert len(replies) == 1 and replies[0].split()[2] == "INFO"
    assert f" member={member_tag(member)} " in replies[0]
    assert f"pseudonyms: {member_tag(member)}={member}" in written
