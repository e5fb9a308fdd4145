"""Audio through the media pipeline: every format members post, every limit, the captioner."""

from __future__ import annotations

import base64
import math
from pathlib import Path

import openai
import pytest
from omnicord.errors import MediaError
from omnicord.media.audio import caption_segments, choose_encoding
from omnicord.media.prepare import prepare_media
from omnicord.media.types import REQUEST_MEDIA_BUDGET, MediaTarget, PreparedMedia
from omnicord.model.catalog import find_model
from omnicord.model.parts import text_part

from tests.doubles.fake_dashscope import FakeDashScope
from tests.doubles.media import (
    ffmpeg,
    noise,
    probe,
    require_encoder,
    test_pattern_video,
    tone,
    voice_note,
)

FLASH = find_model("qwen3-omni-flash")
TURBO = find_model("qwen-omni-turbo")
CAPTIONER = find_model("qwen3-omni-30b-a3b-captioner")


def make(path: Path, seconds: float, *codec: str) -> Path:
    ffmpeg("-f", "lavfi", "-i", f"sine=frequency=500:sample_rate=44100:duration={seconds}",
           "-ac", "2", *codec, str(path))
    return path


def amr(path: Path) -> Path:
    require_encoder("libopencore_amrnb")
    return make(path, 3, "-ar", "8000", "-ac", "1", "-c:a", "libopencore_amrnb")


FORMATS = {
    "voice-message.ogg": lambda p: voice_note(p, 3),
    "song.mp3": lambda p: make(p, 3),
    "memo.wav": lambda p: make(p, 3),
    "memo.m4a": lambda p: make(p, 3, "-c:a", "aac"),
    "memo.aac": lambda p: make(p, 3, "-c:a", "aac", "-f", "adts"),
    "take.flac": lambda p: make(p, 3),
    "vorbis.ogg": lambda p: make(p, 3, "-c:a", "libvorbis"),
    "clip.webm": lambda p: make(p, 3, "-c:a", "libopus"),
    "phone.amr": amr,
    "phone.3gp": amr,
}


def decoded(media: PreparedMedia, index: int, tmp_path: Path) -> Path:
    part = media.parts[index].part["input_audio"]
    out = tmp_path / f"sent-{index}.{part['format']}"
    out.write_bytes(base64.b64decode(part["data"].split(",", 1)[1]))
    return out


def send(server: FakeDashScope, model: str, part: dict, text: str | None = "what is this?") -> None:
    """Send a prepared part as the offline server would receive it from the bot."""
    client = openai.OpenAI(api_key=server.api_key, base_url=server.base_url, max_retries=0)
    content = [part] + ([text_part(text)] if text else [])
    response = client.chat.completions.create(
        model=model, messages=[{"role": "user", "content": content}], stream=True,
        stream_options={"include_usage": True},
    )
    assert list(response)  # raises on rejection
    client.close()


@pytest.mark.parametrize("name", sorted(FORMATS))
async def test_every_audio_format_becomes_wav_or_mp3(
    name: str, tmp_path: Path, dashscope: FakeDashScope
) -> None:
    source = FORMATS[name](tmp_path / name)
    media = await prepare_media(source, name=name, target=MediaTarget(FLASH))
    part = media.parts[0]
    assert (media.kind, part.format) == ("audio", "wav")
    info = probe(decoded(media, 0, tmp_path))
    assert (info.sample_rate, info.channels) == (16_000, "mono")
    assert part.seconds == pytest.approx(3.0, abs=0.1)
    assert part.tokens == math.ceil(part.seconds * 25)  # flash budgeted at 25 per second
    send(dashscope, "qwen3-omni-flash", part.part)


async def test_voice_note_says_it_was_converted(tmp_path: Path) -> None:
    media = await prepare_media(voice_note(tmp_path / "v.ogg", 2), name="voice-message.ogg",
                                target=MediaTarget(FLASH))
    assert media.notices == ("converted from OGG/Opus",)
    assert len(media.content_hash) == 64 and media.source_bytes > 0


async def test_sound_of_a_video(tmp_path: Path) -> None:
    video = test_pattern_video(tmp_path / "clip.mp4", 2)
    media = await prepare_media(video, name="clip.mp4",
                                target=MediaTarget(CAPTIONER, purpose="caption"))
    assert media.parts[0].format in CAPTIONER.audio.formats
    assert media.notices[0] == "converted from AAC"


async def test_long_audio_becomes_mp3_sized_to_the_budget(tmp_path: Path) -> None:
    source = tone(tmp_path / "long.flac", 600, rate=8000, codec=["-c:a", "flac"])
    media = await prepare_media(source, name="long.flac", target=MediaTarget(FLASH))
    part = media.parts[0]
    assert part.format == "mp3"
    assert part.inline_bytes <= REQUEST_MEDIA_BUDGET
    assert probe(decoded(media, 0, tmp_path)).seconds == pytest.approx(600, abs=0.5)


@pytest.mark.parametrize(
    ("model", "seconds", "trimmed"),
    [(FLASH, 1199, False), (FLASH, 1200, False), (FLASH, 1201, True),
     (TURBO, 179, False), (TURBO, 180, False), (TURBO, 181, True)],
)
async def test_duration_limits_at_under_and_over(
    model, seconds: int, trimmed: bool, tmp_path: Path, dashscope: FakeDashScope
) -> None:
    # Encoding 20 minutes of Opus takes ~6 s; FLAC takes a tenth of that and is converted the
    # same way, so the long cases use it and the short ones keep the voice-note codec.
    name = "a.ogg" if seconds < 600 else "a.flac"
    codec = ["-c:a", "libopus", "-b:a", "8k"] if seconds < 600 else ["-c:a", "flac"]
    source = tone(tmp_path / name, seconds, rate=8000, codec=codec)
    media = await prepare_media(source, name=name, target=MediaTarget(model))
    limit = model.audio.max_seconds
    notice = f"trimmed to the first {'20 min' if model is FLASH else '3 min'}"
    assert (notice in media.notices) is trimmed
    sent_seconds = probe(decoded(media, 0, tmp_path)).seconds
    assert sent_seconds <= limit + 0.05
    assert sent_seconds == pytest.approx(min(seconds, limit), abs=0.5)
    send(dashscope, model.name, media.parts[0].part)


async def test_short_and_quiet_audio_is_still_sent(tmp_path: Path) -> None:
    source = tmp_path / "blip.wav"
    ffmpeg("-f", "lavfi", "-i", "anullsrc=r=16000:cl=mono", "-t", "0.3", str(source))
    media = await prepare_media(source, name="blip.wav", target=MediaTarget(TURBO))
    assert media.parts[0].seconds == pytest.approx(0.3, abs=0.02)
    assert media.parts[0].tokens == 25  # billed as one second


@pytest.mark.parametrize(
    ("content", "name", "content_type", "message"),
    [
        (b"", "empty.ogg", "audio/ogg", "empty"),
        (b"RIFF\x24\x00\x00\x00WAVEfmt " + bytes(28), "header-only.wav", "audio/wav",
         "empty|damaged"),
        (bytes(range(256)) * 40, "mystery.mp3", "audio/mpeg", "damaged"),
        (b"\x00\x01\x02garbage" * 100, "mystery.bin", "application/octet-stream",
         "not supported"),
    ],
)
async def test_bad_audio_is_a_clear_error(
    content: bytes, name: str, content_type: str, message: str
) -> None:
    with pytest.raises(MediaError, match=message):
        await prepare_media(content, name=name, content_type=content_type,
                            target=MediaTarget(FLASH))


async def test_noise_is_audio_like_any_other(tmp_path: Path) -> None:
    media = await prepare_media(noise(tmp_path / "n.flac", 2), name="n.flac",
                                target=MediaTarget(TURBO))
    assert media.parts[0].format == "wav"


async def test_captioner_never_gets_ogg_and_takes_one_part(
    tmp_path: Path, dashscope: FakeDashScope
) -> None:
    media = await prepare_media(voice_note(tmp_path / "v.ogg", 4), name="v.ogg",
                                target=MediaTarget(CAPTIONER, purpose="caption"))
    assert [p.format for p in media.parts] == ["wav"]
    send(dashscope, CAPTIONER.name, media.parts[0].part, text=None)


async def test_45_minute_recording_is_captioned_in_two_requests(
    tmp_path: Path, dashscope: FakeDashScope
) -> None:
    source = tone(tmp_path / "talk.flac", 45 * 60, rate=8000, codec=["-c:a", "flac"])
    media = await prepare_media(source, name="talk.flac",
                                target=MediaTarget(CAPTIONER, purpose="caption"))
    assert len(media.parts) == 2
    assert media.parts[0].start == 0 and media.parts[1].end == pytest.approx(2700, abs=1)
    assert media.notices[-1] == "captioned in 2 parts of about 22 min"
    for index, part in enumerate(media.parts):
        assert part.format == "mp3" and part.inline_bytes <= REQUEST_MEDIA_BUDGET
        assert probe(decoded(media, index, tmp_path)).seconds == pytest.approx(1350, abs=2)
        send(dashscope, CAPTIONER.name, part.part, text=None)


def test_encoding_choice() -> None:
    assert choose_encoding(60, REQUEST_MEDIA_BUDGET).format == "wav"
    assert choose_encoding(1200, REQUEST_MEDIA_BUDGET).kbps >= 24
    assert choose_encoding(10_000, 1000) is None
    assert caption_segments(40 * 60, 40 * 60, REQUEST_MEDIA_BUDGET) == 2  # bytes, not minutes
    assert caption_segments(10 * 60, 40 * 60, REQUEST_MEDIA_BUDGET) == 1
