"""Omnicord's words in a channel go in the server's language (the one an admin chose with
``/omni-admin language``, else the server's preferred locale in Discord; in DMs, the member's
Discord language as their latest Omnicord command gave it, else English); its
replies to a member's interaction go in the member's. Through the simulated gateway, with the
locales in the guild and interaction payloads."""

from __future__ import annotations

import struct
import zlib
from dataclasses import dataclass
from pathlib import Path

import discord
import pytest
from omnicord.cogs.delivery.friendly import friendly
from omnicord.errors import MediaError
from omnicord.i18n import LANGUAGES, text
from omnicord.i18n.text import Duration
from omnicord.media.cache import MediaCache
from omnicord.media.prepare import prepare_media
from omnicord.media.types import MediaTarget, Notice, PreparedMedia
from omnicord.model.catalog import find_model

from tests.cogs.test_talk import Talk, until
from tests.cogs.test_talk import talk as talk
from tests.doubles.fake_realtime.fixtures import fake_realtime as fake_realtime
from tests.doubles.fake_realtime.fixtures import fake_realtime_server as fake_realtime_server
from tests.doubles.fake_voice.fixtures import set_voice_state
from tests.doubles.omnicord_bot import World, ogg_voice_note
from tests.doubles.omnicord_bot import world as world

JUNK = b"\x00\x01\x02 not a file anyone can use " * 40


@dataclass
class Server:
    """A second server in the world, with its own preferred locale."""

    guild: discord.Guild
    channel: discord.TextChannel
    admin: discord.Member
    member: discord.Member


def server(world: World, locale: str) -> Server:
    guild = world.h.add_guild(f"Server {locale}", channels=("general",), preferred_locale=locale)
    return Server(guild, guild.text_channels[0],
                  world.h.add_member(guild, "admin", manage_guild=True),
                  world.h.add_member(guild, "member"))


async def ask(world: World, place: Server | discord.abc.Messageable, member: discord.abc.User,
              content: str, **options) -> discord.Message:
    channel = place.channel if isinstance(place, Server) else place
    message = world.h.message_create(channel, member, content, mention_bot=True, **options)
    await world.h.settle(timeout=20)
    return message


def junk(world: World) -> dict:
    return world.h.attachment("data.bin", JUNK, content_type="application/octet-stream")


REFUSED = {
    "en": "⚠️ I couldn't use **data.bin**: this file type is not supported (send audio, images, "
          "video or text).",
    "zh-CN": "⚠️ 无法使用 **data.bin**：不支持此文件类型（请发送音频、图片、视频或文本）。",
    "zh-TW": "⚠️ 無法使用 **data.bin**：不支援此檔案類型（請傳送音訊、圖片、影片或文字）。",
    "ja": "⚠️ **data.bin** を使えませんでした：このファイル形式には対応していません（音声、"
          "画像、動画、テキストを送ってください）。",
}


async def test_a_chinese_server_is_refused_an_unusable_file_in_chinese(world: World) -> None:
    place = server(world, "zh-CN")
    await ask(world, place, place.member, "这是什么？", attachments=[junk(world)])
    assert world.texts(place.channel.id) == [REFUSED["zh-CN"]]


async def test_a_taiwanese_server_reads_traditional_characters(world: World) -> None:
    place = server(world, "zh-TW")
    await ask(world, place, place.member, "這是什麼？", attachments=[junk(world)])
    assert world.texts(place.channel.id) == [REFUSED["zh-TW"]]


async def test_an_english_server_and_dms_read_english(world: World) -> None:
    await world.ask("what is this?", attachments=[junk(world)])
    assert world.texts() == [REFUSED["en"]]
    place = server(world, "zh-CN")  # the member is in a Chinese server too: a DM is English
    dm = world.h.dm_channel(place.member)
    await ask(world, dm, place.member, "what is this?", attachments=[junk(world)])
    assert world.texts(dm.id) == [REFUSED["en"]]


async def test_a_dm_speaks_the_language_of_the_members_latest_omnicord_command(
        world: World) -> None:
    """Discord gives a DM no language: the member's Discord language, as their latest Omnicord
    command gave it, is kept (in the store) for Omnicord's words there; forget-me erases it."""
    place = server(world, "zh-CN")
    dm = world.h.dm_channel(place.member)
    status = world.h.slash(place.channel, place.member, "omni status", {}, locale="ja")
    await world.h.settle()
    assert world.fake.interaction_responses(status["token"])
    runtime = world.bot._omnicord_runtime  # type: ignore[attr-defined]
    assert (await runtime.preferences.member("", str(place.member.id))).language == "ja"
    await ask(world, dm, place.member, "これは？", attachments=[junk(world)])
    assert world.texts(dm.id)[-1] == REFUSED["ja"]
    later = world.h.slash(dm, place.member, "omni status", {}, locale="zh-TW")  # in the DM
    await world.h.settle()
    assert world.fake.interaction_responses(later["token"])
    await ask(world, dm, place.member, "這是什麼？", attachments=[junk(world)])
    assert world.texts(dm.id)[-1] == REFUSED["zh-TW"]
    await ask(world, place, place.member, "这是什么？", attachments=[junk(world)])
    assert world.texts(place.channel.id)[-1] == REFUSED["zh-CN"]  # a channel: the server's
    await runtime.services.privacy.forget_member(str(place.member.id))
    await ask(world, dm, place.member, "what is this?", attachments=[junk(world)])
    assert world.texts(dm.id)[-1] == REFUSED["en"]


async def test_the_admins_choice_outranks_the_servers_locale(world: World) -> None:
    place = server(world, "zh-CN")
    chosen = world.h.slash(place.channel, place.admin, "omni-admin language", {"language": "ja"})
    await world.h.settle()
    assert world.fake.interaction_responses(chosen["token"])  # answered
    await ask(world, place, place.member, "これは？", attachments=[junk(world)])
    assert world.texts(place.channel.id)[-1] == REFUSED["ja"]
    back = world.h.slash(place.channel, place.admin, "omni-admin language",
                         {"language": "discord"})
    await world.h.settle()
    assert world.fake.interaction_responses(back["token"])
    await ask(world, place, place.member, "这是什么？", attachments=[junk(world)])
    assert world.texts(place.channel.id)[-1] == REFUSED["zh-CN"]


async def test_media_notices_and_buttons_follow_the_server(world: World,
                                                           tmp_path: Path) -> None:
    place = server(world, "zh-CN")
    note = world.h.attachment("voice-message.ogg", ogg_voice_note(tmp_path),
                              content_type="audio/ogg", duration=2.0)
    await ask(world, place, place.member, "听听这个", attachments=[note])
    texts = world.texts(place.channel.id)
    assert "-# voice-message.ogg: 已从 OGG/Opus 转换" in texts
    sent = world.replies(place.channel.id)
    labels = [c["label"] for r in sent for row in r.payload.get("components") or []
              for c in row["components"]]
    assert "停止" in labels  # Stop, while the reply was written
    answer = next(m for m in world.fake.channel_messages(place.channel.id)
                  if (m.get("content") or "").startswith("Echo:"))
    shown = [c["label"] for row in answer.get("components", []) for c in row["components"]]
    assert shown == ["重新生成"]  # Regenerate, once it is stored
    await world.ask("hello")  # the English server's buttons are as they were
    english = next(m for m in world.fake.channel_messages(world.channel.id)
                   if (m.get("content") or "").startswith("Echo:"))
    assert [c["label"] for row in english["components"] for c in row["components"]] == \
        ["Regenerate"]


async def test_the_cut_short_note_is_in_the_servers_language(world: World) -> None:
    place = server(world, "ko")
    world.h.slash(place.channel, place.admin, "omni-admin model", {"model": "qwen-omni-turbo"})
    await world.h.settle()
    world.model.reply_text = "\n\n".join(f"Part {i}: " + "lorem ipsum " * 70 for i in range(9))
    await ask(world, place, place.member, "전부 알려 주세요")
    assert world.texts(place.channel.id)[-1].endswith(
        "\n-# (잘림: 답변이 모델의 길이 제한에 도달했어요)")


async def test_a_press_refusal_is_in_the_pressers_language(world: World) -> None:
    place = server(world, "zh-CN")
    await ask(world, place, place.member, "你好")
    answer = next(m for m in world.fake.channel_messages(place.channel.id)
                  if (m.get("content") or "").startswith("Echo:"))
    other = world.h.add_member(place.guild, "other")
    pressed = world.h.press_button(place.channel, other, int(answer["id"]), "重新生成",
                                   locale="ko")
    await world.h.settle()
    (response,) = world.fake.interaction_responses(pressed["token"])
    assert response.content == "질문한 멤버나 관리자(메시지 관리 권한)만 할 수 있어요."
    assert response.payload["data"]["flags"] & 64  # only the presser sees it


async def test_an_auto_caption_is_headed_in_the_servers_language(world: World,
                                                                 tmp_path: Path) -> None:
    place = server(world, "zh-CN")
    world.h.slash(place.channel, place.admin, "omni-admin caption-channel",
                  {"enabled": True, "mode": "description"})
    await world.h.settle()
    world.h.voice_message(place.channel, place.member, ogg_voice_note(tmp_path, 3),
                          duration=3.0)
    await world.h.settle(timeout=20)
    caption = world.replies(place.channel.id)[-1].content
    assert caption.startswith("-# 🤖 机器生成的描述（Qwen3-Omni-Captioner）\n")
    assert "steady tone lasting about 3.0 seconds" in caption  # the caption itself as made


async def test_a_context_menu_answers_in_the_members_language(world: World,
                                                              tmp_path: Path) -> None:
    place = server(world, "zh-CN")
    target = world.h.voice_message(place.channel, place.member, ogg_voice_note(tmp_path, 2),
                                   duration=2.0)
    await world.h.settle(timeout=20)
    asked = world.h.message_command(place.channel, place.admin, "Caption audio", target,
                                    locale="es-ES")
    await world.h.settle(timeout=20)
    (followup,) = world.fake.followups(asked["token"])
    assert followup.content.startswith(
        "-# 🤖 Descripción generada automáticamente (Qwen3-Omni-Captioner)\n")
    runtime = world.bot._omnicord_runtime  # type: ignore[attr-defined]
    assert (await runtime.preferences.member("", str(place.admin.id))).language == "es-ES"


async def test_live_talk_says_it_is_listening_in_the_servers_language(talk: Talk) -> None:
    assert await talk.slash(talk.admin, "omni-admin language", language="zh-CN")
    assert await talk.slash(talk.admin, "omni-admin talk", enabled=True)
    set_voice_state(talk.h, talk.guild, talk.member, talk.lounge)
    await talk.h.settle()
    joined = await talk.slash(talk.member, "omni talk start")  # the member's Discord: English
    assert joined == f"Omnicord joined <#{talk.lounge.id}> and is listening."
    await until(lambda: any(text.startswith("🎙️") for text in talk.lounge_texts()))
    notice = next(text for text in talk.lounge_texts() if text.startswith("🎙️"))
    assert notice.startswith("🎙️ **Omnicord 正在此频道中聆听**")
    assert "`/omni talk stop`" in notice


# --------------------------------------------------------------------------- media errors


def _chunk(kind: bytes, data: bytes) -> bytes:
    body = kind + data
    return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))


def huge_png_header(path: Path, width: int, height: int) -> Path:
    """A PNG that claims ``width`` × ``height`` RGB pixels (refused by its header alone)."""
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + _chunk(b"IHDR", header)
                     + _chunk(b"IDAT", zlib.compress(b"")) + _chunk(b"IEND", b""))
    return path


SAID = {
    "en": "I couldn't use **big.png**: the image is too large to process (12,345×6,000 pixels).",
    "ja": "**big.png** を使えませんでした：画像が大きすぎて処理できません"
          "（12,345×6,000 ピクセル）。",
    "zh-CN": "无法使用 **big.png**：图片太大，无法处理（12,345×6,000 像素）。",
    "zh-TW": "無法使用 **big.png**：圖片太大，無法處理（12,345×6,000 像素）。",
    "ko": "**big.png** 파일을 사용할 수 없어요: 이미지가 너무 커서 처리할 수 없어요"
          "(12,345×6,000픽셀).",
    "es-ES": "No he podido usar **big.png**: la imagen es demasiado grande para procesarla "
             "(12.345×6000 píxeles).",
    "pt-BR": "Não consegui usar **big.png**: a imagem é grande demais para ser processada "
             "(12.345×6.000 pixels).",
}


async def test_a_media_error_renders_in_every_language_with_its_numbers(tmp_path: Path) -> None:
    source = huge_png_header(tmp_path / "big.png", 12_345, 6_000)
    with pytest.raises(MediaError) as raised:  # refused in the image worker process
        await prepare_media(source, name="big.png",
                            target=MediaTarget(find_model("qwen3-omni-flash")))
    assert str(raised.value) == "the image is too large to process (12,345×6,000 pixels)"
    assert set(SAID) == set(LANGUAGES)
    for language, said in SAID.items():
        assert friendly(raised.value, attachment="big.png", language=language) == said


async def test_a_cached_preparation_keeps_its_notices_in_every_language(tmp_path: Path) -> None:
    target = MediaTarget(find_model("qwen3-omni-flash"))
    cache = MediaCache(tmp_path)
    made = PreparedMedia(
        name="talk.flac", kind="audio", parts=(), content_hash="c" * 64,
        notices=(Notice(text("chat.notice_converted", source="FLAC")),
                 Notice(text("chat.notice_trimmed", limit=Duration(150))), "plain words"))
    assert await cache.put(made, target)
    (kept,) = [await cache.get(made.content_hash, target)]
    assert kept is not None and kept.notices == ("converted from FLAC",
                                                 "trimmed to the first 2 min 30 s", "plain words")
    shown = [n.render("ja") if isinstance(n, Notice) else n for n in kept.notices]
    assert shown == ["FLAC から変換しました", "最初の 2分30秒 に切り詰めました", "plain words"]


async def test_a_silent_voice_messages_transcript_says_so_in_the_servers_language(
        world: World, tmp_path: Path) -> None:
    from tests.doubles.media import ffmpeg

    place = server(world, "ja")
    world.h.slash(place.channel, place.admin, "omni-admin caption-channel", {"enabled": True})
    await world.h.settle()
    quiet = tmp_path / "quiet.ogg"
    ffmpeg("-f", "lavfi", "-i", "anullsrc=r=48000:cl=mono", "-t", "3", "-c:a", "libopus",
           "-b:a", "32k", str(quiet))
    world.h.voice_message(place.channel, place.member, quiet.read_bytes(), duration=3.0)
    await world.h.settle(timeout=20)
    transcript = world.replies(place.channel.id)[-1].content
    assert transcript.endswith("\nこの録音には発話がありません。")
    assert "No speech" not in transcript
