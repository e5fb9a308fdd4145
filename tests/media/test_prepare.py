"""The pipeline's entry point: recognition, size checks, text files, cleanup, concurrency."""

from __future__ import annotations

import asyncio
import tempfile
from pathlib import Path

import pytest
from omnicord.errors import MediaError
from omnicord.media.prepare import PrepareOptions, check_declared_size, prepare_media
from omnicord.media.probe import sniff
from omnicord.media.tempfiles import PREFIX
from omnicord.media.types import MediaTarget
from omnicord.model.catalog import find_model

from tests.doubles.media import image, tone, voice_note

FLASH = find_model("qwen3-omni-flash")
CAPTIONER = find_model("qwen3-omni-30b-a3b-captioner")
MIB = 1 << 20


@pytest.fixture
def private_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Point the pipeline's temp folders somewhere we can inspect."""
    root = tmp_path / "tmp"
    root.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(root))
    return root


def leftovers(root: Path) -> list[Path]:
    return [p for p in root.iterdir() if p.name.startswith(PREFIX)]


@pytest.mark.parametrize(
    ("head", "family", "fmt"),
    [
        (b"\x89PNG\r\n\x1a\n" + bytes(8), "image", "png"),
        (b"\xff\xd8\xff\xe0", "image", "jpeg"),
        (b"GIF89a", "image", "gif"),
        (b"RIFF\x00\x00\x00\x00WEBPVP8 ", "image", "webp"),
        (b"\x00\x00\x00\x18ftypheic", "image", "heif"),
        (b"RIFF\x00\x00\x00\x00WAVEfmt ", "media", "wav"),
        (b"OggS\x00\x02", "media", "ogg"),
        (b"\x00\x00\x00\x20ftypisom", "media", "mp4"),
        (b"\x00\x00\x00\x14ftyp3gp4", "media", "3gp"),
        (b"\x1a\x45\xdf\xa3", "media", "matroska"),
        (b"#!AMR\n", "media", "amr"),
        (b"ID3\x03", "media", "mp3"),
        (b"print('hello')\n", "text", "text"),
        ("naïve café".encode(), "text", "text"),
        (b"\x00\x00\x01\x02", "unknown", ""),
    ],
)
def test_sniffing_by_content(head: bytes, family: str, fmt: str) -> None:
    assert (sniff(head).family, sniff(head).format) == (family, fmt)


async def test_names_and_types_do_not_fool_it(tmp_path: Path) -> None:
    note = voice_note(tmp_path / "v.ogg", 1)
    media = await prepare_media(note, name="photo.png", content_type="image/png",
                                target=MediaTarget(FLASH))
    assert media.kind == "audio"


async def test_text_files_are_inlined(tmp_path: Path) -> None:
    source = tmp_path / "script.py"
    source.write_text("def main():\n    return 42\n")
    media = await prepare_media(source, name="script.py", target=MediaTarget(FLASH))
    part = media.parts[0]
    assert part.kind == "text" and part.part["type"] == "text"
    assert "Attached file script.py" in part.part["text"]
    assert "return 42" in part.part["text"]
    assert part.tokens > 0


async def test_long_text_is_cut_with_a_notice() -> None:
    media = await prepare_media(("x" * 5000).encode(), name="log.txt",
                                target=MediaTarget(FLASH), options=PrepareOptions(text_limit=1000))
    assert media.notices == ("only the first 1,000 characters were read",)
    assert media.parts[0].part["text"].split("```")[1].count("x") == 1000


@pytest.mark.parametrize(
    ("data", "name", "message"),
    [
        (b"\x00\x00\x00\x01binary" * 50, "data.json", "not UTF-8 text"),
        (b"\xff\xfe\xfa" * 200, "notes.txt", "not supported|not UTF-8"),
        (b"", "empty.txt", "empty"),
    ],
)
async def test_binary_or_empty_text_is_refused(data: bytes, name: str, message: str) -> None:
    with pytest.raises(MediaError, match=message):
        await prepare_media(data, name=name, target=MediaTarget(FLASH))


async def test_declared_size_is_checked_before_download() -> None:
    async def never() -> None:
        raise AssertionError("nothing should be read")
        yield b""  # pragma: no cover

    with pytest.raises(MediaError, match=r"^the file is 5 MiB; Omnicord accepts up to 1 MiB$"):
        await prepare_media(never(), name="huge.mp4", target=MediaTarget(FLASH),
                            declared_size=5 * MIB, options=PrepareOptions(max_input_bytes=MIB))


@pytest.mark.parametrize(
    ("size", "limit", "message"),
    [
        (MIB + MIB // 2, MIB, "the file is 1.5 MiB; Omnicord accepts up to 1 MiB"),
        (MIB + 1, MIB, "the file is over the 1 MiB Omnicord accepts"),  # never "1 MiB; up to 1"
        (1_100_000, 1_000_000, "the file is 1,074.2 KiB; Omnicord accepts up to 976.6 KiB"),
        (600 * MIB, 500 * MIB, "the file is 600 MiB; Omnicord accepts up to 500 MiB"),
    ],
)
def test_size_messages_use_one_unit_and_differ(size: int, limit: int, message: str) -> None:
    with pytest.raises(MediaError) as caught:
        check_declared_size(size, PrepareOptions(max_input_bytes=limit))
    assert str(caught.value) == message


async def test_oversized_stream_is_stopped_and_cleaned(private_tmp: Path) -> None:
    async def endless():
        while True:
            yield b"\x00" * 65_536

    with pytest.raises(MediaError, match=r"^the file is over the 1 MiB Omnicord accepts$"):
        await prepare_media(endless(), name="lie.ogg", target=MediaTarget(FLASH),
                            options=PrepareOptions(max_input_bytes=MIB))
    assert leftovers(private_tmp) == []


async def test_images_cannot_be_captioned(tmp_path: Path) -> None:
    with pytest.raises(MediaError, match="only audio and video can be captioned"):
        await prepare_media(image(tmp_path / "a.png", 40, 40), name="a.png",
                            target=MediaTarget(CAPTIONER, purpose="caption"))


async def test_temp_files_removed_on_success_error_and_cancel(
    tmp_path: Path, private_tmp: Path
) -> None:
    await prepare_media(tone(tmp_path / "ok.wav", 1), name="ok.wav", target=MediaTarget(FLASH))
    with pytest.raises(MediaError):
        await prepare_media(b"\x00garbage" * 10, name="bad.bin", target=MediaTarget(FLASH))
    long_note = voice_note(tmp_path / "long.ogg", 900)
    task = asyncio.create_task(
        prepare_media(long_note, name="long.ogg", target=MediaTarget(FLASH))
    )
    await asyncio.sleep(0.3)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert leftovers(private_tmp) == []


async def test_ogg_is_probed_without_ffmpeg(tmp_path: Path) -> None:
    from omnicord.media.ogg import probe_ogg
    from omnicord.media.probe import probe

    note = voice_note(tmp_path / "v.ogg", 7)
    direct = probe_ogg(note)
    assert direct is not None
    assert (direct.audio_codec, direct.sample_rate, direct.channels) == ("opus", 48_000, 1)
    assert direct.duration == pytest.approx((await probe(note)).duration, abs=0.03)
    vorbis = tone(tmp_path / "v2.ogg", 3, codec=["-c:a", "libvorbis"])
    assert probe_ogg(vorbis).audio_codec == "vorbis"
    broken = tmp_path / "broken.ogg"
    broken.write_bytes(b"OggS" + bytes(100))
    assert probe_ogg(broken) is None


async def test_unreadable_local_file_is_a_clear_error(tmp_path: Path) -> None:
    folder = tmp_path / "a-folder.wav"
    folder.mkdir()  # reading a folder fails like an unreadable file does
    with pytest.raises(MediaError, match="could not be read"):
        await prepare_media(folder, name="a-folder.wav", target=MediaTarget(FLASH))
