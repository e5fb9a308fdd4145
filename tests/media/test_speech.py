"""Model speech PCM written as files a person can play, checked by decoding them with ffmpeg."""

from __future__ import annotations

import math
import struct
from pathlib import Path

import pytest
from omnicord.errors import InputError
from omnicord.media.speech import pcm_seconds, speech_format, write_speech

from tests.doubles.media import probe


def sine_pcm(seconds: float, freq: float = 300.0, rate: int = 24_000) -> bytes:
    count = round(seconds * rate)
    return b"".join(
        struct.pack("<h", int(12_000 * math.sin(2 * math.pi * freq * i / rate)))
        for i in range(count)
    )


async def test_ogg_is_opus_at_48k_with_the_right_duration(tmp_path: Path) -> None:
    pcm = sine_pcm(2.5)
    written = await write_speech(pcm, tmp_path / "reply.ogg")
    assert written.format == "ogg"
    assert written.seconds == pytest.approx(2.5)
    info = probe(written.path)
    assert info.audio_codec == "opus"
    assert info.sample_rate == 48_000
    assert info.channels == "mono"
    assert info.seconds == pytest.approx(2.5, abs=0.05)


@pytest.mark.parametrize(("name", "codec", "rate"), [("r.wav", "pcm_s16le", 24_000),
                                                     ("r.mp3", "mp3", 24_000)])
async def test_wav_and_mp3_by_extension(tmp_path: Path, name: str, codec: str, rate: int) -> None:
    written = await write_speech(sine_pcm(1.0), tmp_path / name)
    info = probe(written.path)
    assert info.audio_codec == codec
    assert info.sample_rate == rate
    assert info.seconds == pytest.approx(1.0, abs=0.06)


def test_unknown_extension_is_refused() -> None:
    with pytest.raises(InputError, match=r"\.ogg, \.wav or \.mp3"):
        speech_format(Path("reply.flac"))


def test_pcm_seconds() -> None:
    assert pcm_seconds(b"\x00\x00" * 24_000) == 1.0
