"""Image preparation: formats, metadata, shape rules, budgets, animations, and the real API."""

from __future__ import annotations

import asyncio
import base64
import io
import os
import struct
import sys
import time
import zlib
from pathlib import Path

import pytest
from omnicord.errors import MediaError
from omnicord.media.image import MAX_SOURCE_PIXELS, prepare_image, prepare_image_sync
from omnicord.media.tokens import image_list_tokens, image_size_for_tokens, image_tokens
from omnicord.media.types import MediaTarget, PreparedMedia
from omnicord.model.catalog import find_model
from omnicord.model.parts import text_part
from openai import OpenAI
from PIL import ExifTags, Image, ImageCms, features

from tests.doubles import fake_dashscope
from tests.doubles.fake_dashscope import FakeDashScope

FLASH = find_model("qwen3-omni-flash")
TURBO = find_model("qwen-omni-turbo")

try:
    import pillow_heif
except ImportError:  # the HEIC tests then check the clear refusal instead
    pillow_heif = None


# --------------------------------------------------------------------------- helpers


async def prepare(path: Path, fmt: str, model=FLASH, **target: int) -> PreparedMedia:
    return await prepare_image(path, name=path.name, fmt=fmt, target=MediaTarget(model, **target))


def payloads(prepared: PreparedMedia) -> list[bytes]:
    """Every encoded picture the prepared parts carry, decoded from their data URLs."""
    part = prepared.parts[0].part
    urls = [part["image_url"]["url"]] if part["type"] == "image_url" else part["video"]
    return [base64.b64decode(url.partition(",")[2]) for url in urls]


def output(prepared: PreparedMedia) -> Image.Image:
    picture = Image.open(io.BytesIO(payloads(prepared)[0]))
    picture.load()
    return picture


def noise(width: int, height: int, grain: int = 10) -> Image.Image:
    """Random colour blocks of ``grain`` px: costly to compress, cheap to make."""
    small = (max(1, width // grain), max(1, height // grain))
    block = Image.frombytes("RGB", small, os.urandom(small[0] * small[1] * 3))
    return block.resize((width, height), Image.Resampling.NEAREST)


def save(picture: Image.Image, path: Path, **params: object) -> Path:
    picture.save(path, **params)
    return path


def animated_gif(path: Path, frames: int, size: tuple[int, int] = (64, 48),
                 duration: int = 100) -> Path:
    colours = [(255 * (i % 2), 40 * (i % 6), 200) for i in range(frames)]
    pictures = [Image.new("RGB", size, colour) for colour in colours]
    pictures[0].save(path, save_all=True, append_images=pictures[1:], duration=duration, loop=0)
    return path


def png_header_only(path: Path, width: int, height: int, idat: bytes = b"") -> Path:
    """A PNG whose header claims ``width`` × ``height`` (1-bit grey), with little or no data."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(
            ">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    header = struct.pack(">IIBBBBB", width, height, 1, 0, 0, 0, 0)
    body = chunk(b"IHDR", header) + (chunk(b"IDAT", idat) if idat else b"") + chunk(b"IEND", b"")
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + body)
    return path


def send(server: FakeDashScope, model: str, prepared: PreparedMedia) -> tuple[str, int]:
    """Send the prepared parts with the real SDK; return the reply and the prompt tokens."""
    client = OpenAI(api_key=server.api_key, base_url=server.base_url, max_retries=0, timeout=30)
    content = [p.part for p in prepared.parts] + [text_part("what is this?")]
    stream = client.chat.completions.create(
        model=model, messages=[{"role": "user", "content": content}], stream=True,
        stream_options={"include_usage": True},
    )
    text, prompt_tokens = "", 0
    for chunk in stream:
        if chunk.choices:
            text += chunk.choices[0].delta.content or ""
        if chunk.usage:
            prompt_tokens = chunk.usage.prompt_tokens
    client.close()
    return text, prompt_tokens


def assert_still_tokens(prepared: PreparedMedia, model=FLASH) -> None:
    part = prepared.parts[0]
    picture = output(prepared)
    assert (part.width, part.height) == picture.size
    assert part.tokens == image_tokens(picture.width, picture.height, model.image)


# --------------------------------------------------------------------------- formats


async def test_png_stays_png_without_notices(tmp_path: Path) -> None:
    prepared = await prepare(save(noise(300, 200, 50), tmp_path / "a.png"), "png")
    assert prepared.kind == "image" and prepared.source_format == "png"
    assert prepared.parts[0].format == "png" and prepared.parts[0].kind == "image"
    assert prepared.parts[0].part["image_url"]["url"].startswith("data:image/png;base64,")
    assert prepared.notices == ()
    assert output(prepared).size == (300, 200) and output(prepared).mode == "RGB"
    assert_still_tokens(prepared)


async def test_jpeg_stays_jpeg_without_notices(tmp_path: Path) -> None:
    prepared = await prepare(save(noise(640, 480), tmp_path / "a.jpg", quality=95), "jpeg")
    assert prepared.parts[0].format == "jpeg"
    assert prepared.parts[0].part["image_url"]["url"].startswith("data:image/jpeg;base64,")
    assert prepared.notices == ()
    assert output(prepared).format == "JPEG" and output(prepared).size == (640, 480)
    assert_still_tokens(prepared)


@pytest.mark.parametrize(
    ("suffix", "fmt", "label"),
    [(".bmp", "bmp", "BMP"), (".tiff", "tiff", "TIFF"), (".webp", "webp", "WebP"),
     (".gif", "gif", "GIF")],
)
async def test_other_formats_become_jpeg(tmp_path: Path, suffix: str, fmt: str,
                                         label: str) -> None:
    prepared = await prepare(save(noise(120, 90, 30), tmp_path / f"a{suffix}"), fmt)
    assert prepared.parts[0].format == "jpeg"
    assert prepared.notices == (f"converted from {label}",)
    assert output(prepared).size == (120, 90)
    assert_still_tokens(prepared)


async def test_opaque_png_that_is_too_heavy_becomes_jpeg(tmp_path: Path) -> None:
    prepared = await prepare(save(noise(1200, 1000, 1), tmp_path / "big.png"), "png")
    assert prepared.parts[0].format == "jpeg"
    assert "converted from PNG" in prepared.notices


async def test_tiff_16_bit_greyscale_is_scaled_not_clipped(tmp_path: Path) -> None:
    deep = Image.new("I;16", (40, 30), 32_768)
    prepared = await prepare(save(deep, tmp_path / "deep.tiff"), "tiff")
    red, green, blue = output(prepared).getpixel((20, 15))
    assert 120 <= red <= 136 and red == green == blue


async def test_cmyk_jpeg_becomes_rgb(tmp_path: Path) -> None:
    cmyk = Image.new("CMYK", (50, 40), (0, 255, 255, 0))  # pure red in ink
    prepared = await prepare(save(cmyk, tmp_path / "cmyk.jpg"), "jpeg")
    picture = output(prepared)
    assert picture.mode == "RGB"
    red, green, blue = picture.getpixel((25, 20))
    assert red > 200 and green < 60 and blue < 60


@pytest.mark.skipif(pillow_heif is None, reason="pillow-heif is not installed")
async def test_heic_is_read_and_converted(tmp_path: Path) -> None:
    pillow_heif.register_heif_opener()
    prepared = await prepare(save(noise(96, 64, 16), tmp_path / "a.heic", format="HEIF"), "heif")
    assert prepared.parts[0].format == "jpeg"
    assert prepared.notices == ("converted from HEIC",)
    assert output(prepared).size == (96, 64)


@pytest.mark.skipif(pillow_heif is None or not features.check("avif"),
                    reason="needs pillow-heif and Pillow's AVIF support")
async def test_avif_sniffed_as_heif_is_read(tmp_path: Path) -> None:
    source = save(noise(96, 64, 16), tmp_path / "a.avif", format="AVIF")
    prepared = await prepare(source, "heif")
    assert prepared.notices == ("converted from AVIF",)
    assert output(prepared).size == (96, 64)


def test_heic_without_pillow_heif_is_refused_clearly(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "pillow_heif", None)  # import now fails (in this process)
    path = tmp_path / "a.heic"
    path.write_bytes(b"\x00\x00\x00\x18ftypheic" + b"\x00" * 64)
    with pytest.raises(MediaError, match="HEIC images need the pillow-heif package"):
        prepare_image_sync(path, path.name, "heif", MediaTarget(FLASH))


# --------------------------------------------------------------------------- metadata


async def test_exif_orientation_applied_and_all_metadata_stripped(tmp_path: Path) -> None:
    exif = Image.Exif()
    exif[ExifTags.Base.Orientation] = 6
    exif[ExifTags.Base.Make] = "Omnicord test camera"
    gps = exif.get_ifd(ExifTags.IFD.GPSInfo)
    gps[ExifTags.GPS.GPSLatitudeRef] = "N"
    gps[ExifTags.GPS.GPSLatitude] = (51.0, 30.0, 0.0)
    icc = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    source = save(noise(80, 40), tmp_path / "phone.jpg", exif=exif.tobytes(), icc_profile=icc,
                  comment=b"secret comment")
    assert Image.open(source).getexif().get_ifd(ExifTags.IFD.GPSInfo)

    prepared = await prepare(source, "jpeg")
    picture = output(prepared)
    assert picture.size == (40, 80)  # turned upright
    assert "location data removed" in prepared.notices
    assert not picture.getexif()
    assert not {"exif", "icc_profile", "comment", "xmp"} & set(picture.info)
    assert b"Omnicord test camera" not in payloads(prepared)[0]


async def test_png_text_chunks_are_stripped(tmp_path: Path) -> None:
    from PIL import PngImagePlugin

    text = PngImagePlugin.PngInfo()
    text.add_text("Author", "someone private")
    source = save(noise(64, 64, 8), tmp_path / "a.png", pnginfo=text)
    prepared = await prepare(source, "png")
    assert output(prepared).format == "PNG"
    assert "Author" not in output(prepared).info
    assert b"someone private" not in payloads(prepared)[0]
    assert prepared.notices == ()


# --------------------------------------------------------------------------- shape rules


@pytest.mark.parametrize(("model", "side"), [(FLASH, 32), (TURBO, 28)])
async def test_tiny_image_is_padded_not_stretched(tmp_path: Path, model, side: int) -> None:
    source = save(Image.new("RGB", (5, 5), (255, 0, 0)), tmp_path / "dot.png")
    prepared = await prepare(source, "png", model)
    picture = output(prepared).convert("RGB")
    assert picture.size == (side, side)
    assert picture.getpixel((side // 2, side // 2)) == (255, 0, 0)
    assert picture.getpixel((0, 0)) == (255, 255, 255)
    assert "padded from 5×5" in prepared.notices
    assert_still_tokens(prepared, model)


async def test_very_long_image_is_padded_to_200_to_1(tmp_path: Path) -> None:
    source = save(Image.new("RGB", (4000, 10), (0, 0, 255)), tmp_path / "strip.png")
    prepared = await prepare(source, "png")
    picture = output(prepared)
    assert picture.size == (4000, 20)
    assert picture.width * picture.height <= FLASH.image.max_pixels
    assert "padded to a 200:1 shape" in prepared.notices
    assert_still_tokens(prepared)


async def test_huge_long_image_is_padded_then_downscaled(tmp_path: Path) -> None:
    source = save(Image.new("RGB", (40_000, 10), (0, 0, 255)), tmp_path / "strip.png")
    prepared = await prepare(source, "png", TURBO)
    width, height = output(prepared).size
    assert width / height <= 200 and height > 10
    assert width < 40_000
    assert "padded to a 200:1 shape" in prepared.notices
    assert any(n.startswith("downscaled from 40000×10 to ") for n in prepared.notices)
    assert_still_tokens(prepared, TURBO)


@pytest.mark.parametrize("model", [FLASH, TURBO])
async def test_big_photo_downscaled_to_model_size_within_budget(tmp_path: Path, model) -> None:
    source = save(noise(6000, 4000), tmp_path / "big.jpg", quality=85)
    budget = 1_500_000
    prepared = await prepare(source, "jpeg", model, budget_bytes=budget)
    expected = image_size_for_tokens(6000, 4000, model.image)
    assert output(prepared).size == expected
    assert prepared.inline_bytes <= budget
    assert f"downscaled from 6000×4000 to {expected[0]}×{expected[1]}" in prepared.notices
    assert prepared.tokens == image_tokens(*expected, model.image)


async def test_rotated_photo_reports_upright_sizes(tmp_path: Path) -> None:
    exif = Image.Exif()
    exif[ExifTags.Base.Orientation] = 6
    source = save(noise(3000, 2000), tmp_path / "big.jpg", quality=80, exif=exif.tobytes())
    prepared = await prepare(source, "jpeg")
    expected = image_size_for_tokens(2000, 3000, FLASH.image)
    assert output(prepared).size == expected
    assert f"downscaled from 2000×3000 to {expected[0]}×{expected[1]}" in prepared.notices


# --------------------------------------------------------------------------- refusals


async def test_decompression_bomb_over_our_limit_is_refused_quickly(tmp_path: Path) -> None:
    side = 9000  # 81 megapixels: under Pillow's own warning, over Omnicord's limit
    assert side * side > MAX_SOURCE_PIXELS
    rows = zlib.compress(b"\x00" * ((side // 8 + 1) * side), 9)
    source = png_header_only(tmp_path / "bomb.png", side, side, rows)
    assert source.stat().st_size < 200_000
    started = time.monotonic()
    with pytest.raises(MediaError, match=r"too large to process \(81 megapixels\)"):
        await prepare(source, "png")
    assert time.monotonic() - started < 10  # refused from the header, not decoded


async def test_absurd_dimensions_are_refused(tmp_path: Path) -> None:
    source = png_header_only(tmp_path / "bomb.png", 100_000, 100_000)
    started = time.monotonic()
    with pytest.raises(MediaError, match="too large to process"):
        await prepare(source, "png")
    assert time.monotonic() - started < 10  # refused from the header, not decoded


async def test_truncated_jpeg_is_refused(tmp_path: Path) -> None:
    whole = save(noise(400, 300), tmp_path / "whole.jpg").read_bytes()
    cut = tmp_path / "cut.jpg"
    cut.write_bytes(whole[: len(whole) // 2])
    with pytest.raises(MediaError, match="damaged or in a format Omnicord cannot read") as caught:
        await prepare(cut, "jpeg")
    assert caught.value.__cause__ is None and caught.value.__suppress_context__


@pytest.mark.parametrize("fmt", ["png", "jpeg", "gif", "webp", "tiff"])
async def test_random_bytes_are_refused(tmp_path: Path, fmt: str) -> None:
    path = tmp_path / "junk"
    path.write_bytes(os.urandom(2048))
    with pytest.raises(MediaError, match="damaged"):
        await prepare(path, fmt)


async def test_empty_file_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "empty.png"
    path.write_bytes(b"")
    with pytest.raises(MediaError, match="empty"):
        await prepare(path, "png")


async def test_model_without_images_is_refused(tmp_path: Path) -> None:
    source = save(noise(64, 64), tmp_path / "a.png")
    with pytest.raises(MediaError, match="does not take images"):
        await prepare(source, "png", find_model("qwen3-omni-30b-a3b-captioner"))


# --------------------------------------------------------------------------- transparency


async def test_transparency_is_kept_as_png(tmp_path: Path) -> None:
    picture = Image.new("RGBA", (60, 40), (255, 0, 0, 255))
    picture.paste((0, 0, 0, 0), (0, 0, 30, 40))
    prepared = await prepare(save(picture, tmp_path / "alpha.png"), "png")
    result = output(prepared)
    assert prepared.parts[0].format == "png" and result.mode == "RGBA"
    assert result.getpixel((5, 5))[3] == 0 and result.getpixel((50, 5)) == (255, 0, 0, 255)


async def test_opaque_alpha_channel_is_dropped(tmp_path: Path) -> None:
    picture = Image.new("RGBA", (60, 40), (0, 128, 0, 255))
    prepared = await prepare(save(picture, tmp_path / "opaque.webp", lossless=True), "webp")
    assert prepared.parts[0].format == "jpeg" and output(prepared).mode == "RGB"


async def test_transparent_still_gif_becomes_png(tmp_path: Path) -> None:
    picture = Image.new("P", (40, 40), 1)
    picture.putpalette([0, 0, 0, 255, 0, 0] + [0] * 762)
    picture.paste(0, (0, 0, 20, 40))
    source = save(picture, tmp_path / "a.gif", transparency=0)
    prepared = await prepare(source, "gif")
    assert prepared.parts[0].format == "png"
    assert prepared.notices == ("converted from GIF",)
    assert output(prepared).getpixel((5, 5))[3] == 0


async def test_tiny_transparent_image_is_padded_with_transparency(tmp_path: Path) -> None:
    picture = Image.new("RGBA", (6, 6), (0, 0, 255, 128))
    prepared = await prepare(save(picture, tmp_path / "a.png"), "png")
    result = output(prepared)
    assert result.size == (32, 32) and result.getpixel((0, 0))[3] == 0


# --------------------------------------------------------------------------- budgets


async def test_small_budget_lowers_quality(tmp_path: Path) -> None:
    source = save(noise(800, 600, 2), tmp_path / "a.jpg", quality=95)
    roomy = await prepare(source, "jpeg")
    budget = roomy.inline_bytes * 6 // 10
    tight = await prepare(source, "jpeg", budget_bytes=budget)
    assert tight.inline_bytes <= budget < roomy.inline_bytes
    assert output(tight).size == (800, 600)
    assert "compressed to fit the size limit" in tight.notices


async def test_tiny_budget_halves_the_image(tmp_path: Path) -> None:
    source = save(noise(800, 600, 2), tmp_path / "a.jpg", quality=95)
    prepared = await prepare(source, "jpeg", budget_bytes=40_000)
    assert prepared.inline_bytes <= 40_000
    assert output(prepared).width < 800
    assert any(n.startswith("downscaled from 800×600") for n in prepared.notices)
    assert_still_tokens(prepared)


async def test_impossible_budget_is_refused(tmp_path: Path) -> None:
    source = save(noise(800, 600, 2), tmp_path / "a.jpg")
    with pytest.raises(MediaError, match="cannot be made small enough"):
        await prepare(source, "jpeg", budget_bytes=300)


# --------------------------------------------------------------------------- animations


async def test_animated_gif_becomes_frames_at_two_per_second(tmp_path: Path) -> None:
    source = animated_gif(tmp_path / "a.gif", 30, (160, 120))  # 3 seconds
    prepared = await prepare(source, "gif")
    part = prepared.parts[0]
    assert prepared.kind == "video" and part.kind == "video" and part.format == "frames"
    assert part.frames == 6 and len(part.part["video"]) == 6
    assert prepared.notices == ("animated GIF shown as 6 frames",)
    sizes = {Image.open(io.BytesIO(data)).size for data in payloads(prepared)}
    assert sizes == {(part.width, part.height)}
    assert part.tokens == image_list_tokens(part.width, part.height, 6, FLASH.video)


async def test_frames_follow_their_durations(tmp_path: Path) -> None:
    pictures = [Image.new("RGB", (32, 32), c) for c in ((255, 0, 0), (0, 0, 255))]
    source = tmp_path / "slow.gif"
    pictures[0].save(source, save_all=True, append_images=pictures[1:], duration=[3000, 1000])
    prepared = await prepare(source, "gif", TURBO)  # two frames, four moments
    colours = [Image.open(io.BytesIO(d)).convert("RGB").getpixel((16, 16))
               for d in payloads(prepared)]
    assert [c[0] > 128 for c in colours] == [True, True, True, False]


async def test_turbo_gets_at_least_four_frames(tmp_path: Path) -> None:
    source = animated_gif(tmp_path / "two.gif", 2)
    flash = await prepare(source, "gif", FLASH)
    turbo = await prepare(source, "gif", TURBO)
    assert flash.parts[0].frames == 2
    assert turbo.parts[0].frames == 4
    assert turbo.notices == ("animated GIF shown as 4 frames",)


async def test_long_gif_is_capped_at_the_model_maximum(tmp_path: Path) -> None:
    source = animated_gif(tmp_path / "long.gif", 200, (24, 24), duration=500)  # 100 s
    prepared = await prepare(source, "gif", TURBO)
    assert prepared.parts[0].frames == TURBO.image_list.max_images


async def test_big_animation_frames_shrink_to_video_frame_size(tmp_path: Path) -> None:
    source = animated_gif(tmp_path / "big.gif", 4, (1600, 1200))
    prepared = await prepare(source, "gif")
    part = prepared.parts[0]
    assert part.width < 1600 and part.height < 1200
    assert part.width % 32 == 0 and part.height % 32 == 0


async def test_animated_webp_and_png_with_transparency(tmp_path: Path) -> None:
    frames = [Image.new("RGBA", (48, 48), (255, 0, 0, a)) for a in (0, 255, 0, 255)]
    webp = tmp_path / "a.webp"
    frames[0].save(webp, save_all=True, append_images=frames[1:], duration=500, lossless=True)
    apng = tmp_path / "a.png"
    frames[0].save(apng, save_all=True, append_images=frames[1:], duration=500)
    for path, fmt, label in ((webp, "webp", "WebP"), (apng, "png", "PNG")):
        prepared = await prepare(path, fmt)
        assert prepared.notices == (f"animated {label} shown as 4 frames",)
        first = Image.open(io.BytesIO(payloads(prepared)[0])).convert("RGB").getpixel((24, 24))
        assert min(first) > 240  # transparent frame composited onto white


async def test_animation_budget_lowers_quality_then_frame_count(tmp_path: Path) -> None:
    pictures = [noise(320, 240, 2) for _ in range(8)]
    source = tmp_path / "noisy.gif"
    pictures[0].save(source, save_all=True, append_images=pictures[1:], duration=500)
    roomy = await prepare(source, "gif", TURBO)
    assert roomy.parts[0].frames == 8
    budget = roomy.inline_bytes // 4
    tight = await prepare(source, "gif", TURBO, budget_bytes=budget)
    assert tight.inline_bytes <= budget
    assert TURBO.image_list.min_images <= tight.parts[0].frames < 8
    assert "compressed to fit the size limit" in tight.notices


async def test_single_frame_gif_is_a_still(tmp_path: Path) -> None:
    prepared = await prepare(animated_gif(tmp_path / "one.gif", 1), "gif")
    assert prepared.kind == "image" and prepared.parts[0].kind == "image"
    assert prepared.notices == ("converted from GIF",)


async def test_work_runs_off_the_event_loop(tmp_path: Path) -> None:
    source = save(noise(6000, 4000), tmp_path / "big.jpg", quality=85)
    ticks = 0

    async def ticker() -> None:
        nonlocal ticks
        while True:
            await asyncio.sleep(0.005)
            ticks += 1

    task = asyncio.create_task(ticker())
    await prepare(source, "jpeg")
    task.cancel()
    assert ticks >= 3


# --------------------------------------------------------------------------- the real API


def _fake_tokens(prepared: PreparedMedia, model) -> int:
    """The offline server's own, independent estimate for the part plus the prompt text."""
    part = prepared.parts[0]
    block = model.image.block_px
    if part.kind == "image":
        media = fake_dashscope.image_tokens(part.width, part.height, block)
    else:
        media = fake_dashscope.video_tokens(part.width, part.height, part.frames, block)
    return media + fake_dashscope.text_tokens("what is this?")


def test_prepared_images_are_accepted_by_the_api(
    dashscope: FakeDashScope, tmp_path: Path
) -> None:
    alpha = Image.new("RGBA", (60, 40), (255, 0, 0, 0))
    cases = [
        (save(noise(6000, 4000), tmp_path / "big.jpg", quality=85), "jpeg", FLASH),
        (save(alpha, tmp_path / "alpha.png"), "png", TURBO),
        (save(Image.new("RGB", (5, 5)), tmp_path / "dot.bmp"), "bmp", FLASH),
        (save(Image.new("RGB", (4000, 10)), tmp_path / "strip.png"), "png", TURBO),
        (save(Image.new("RGB", (40_000, 10)), tmp_path / "long.png"), "png", FLASH),
    ]
    for path, fmt, model in cases:
        prepared = asyncio.run(prepare(path, fmt, model))
        reply, prompt_tokens = send(dashscope, model.name, prepared)
        assert reply.endswith("[saw 1 image]"), (path.name, reply)
        assert prompt_tokens == _fake_tokens(prepared, model), path.name


def test_prepared_animations_are_accepted_by_the_api(
    dashscope: FakeDashScope, tmp_path: Path
) -> None:
    cases = [
        (animated_gif(tmp_path / "two.gif", 2), FLASH, 2),
        (animated_gif(tmp_path / "two.gif", 2), TURBO, 4),
        (animated_gif(tmp_path / "long.gif", 30, (400, 300)), TURBO, 6),
    ]
    for path, model, frames in cases:
        prepared = asyncio.run(prepare(path, "gif", model))
        reply, prompt_tokens = send(dashscope, model.name, prepared)
        assert reply.endswith(f"[saw 1 video of {frames} frames]"), reply
        assert prompt_tokens == _fake_tokens(prepared, model)
