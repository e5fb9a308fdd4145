"""Video preparation: real clips made with ffmpeg, decoded back, and sent to the offline server."""

from __future__ import annotations

import asyncio
import base64
import io
import itertools
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import aiofiles.os
import pytest
from omnicord.errors import MediaError
from omnicord.media import video
from omnicord.media.probe import MediaInfo, probe
from omnicord.media.tokens import (
    audio_tokens,
    image_list_tokens,
    video_frame_count,
    video_frame_size,
    video_tokens,
)
from omnicord.media.types import MediaTarget, PreparedMedia, PreparedPart
from omnicord.media.video import ffmpeg_timeout, prepare_video
from omnicord.model.catalog import QWEN3_OMNI_FLASH, QWEN_OMNI_TURBO, ModelSpec
from omnicord.model.parts import text_part
from openai import OpenAI
from PIL import Image

from tests.doubles.fake_dashscope import FakeDashScope
from tests.doubles.media import ffmpeg, require_encoder
from tests.doubles.media import probe as decode
from tests.doubles.media import test_pattern_video as pattern_video

FLASH, TURBO = QWEN3_OMNI_FLASH, QWEN_OMNI_TURBO
SMALL = "160x120"
SOUND_TEXT = "a steady 330 Hz tone"


# ---- media makers


def clip(path: Path, seconds: float, *, size: str = "320x240", rate: int = 10,
         sound: bool = True, vcodec: tuple[str, ...] = ("-c:v", "libx264", "-preset", "ultrafast",
                                                        "-pix_fmt", "yuv420p"),
         acodec: tuple[str, ...] = ("-c:a", "aac"), source: str = "testsrc") -> Path:
    """A test clip in any container and codecs (``source`` is a lavfi video graph)."""
    args = ["-f", "lavfi", "-i", f"{source}=size={size}:rate={rate}:duration={seconds}"]
    if sound:
        args += ["-f", "lavfi", "-i", f"sine=frequency=330:duration={seconds}", *acodec,
                 "-shortest"]
    ffmpeg(*args, *vcodec, str(path))
    return path


def noisy(path: Path, seconds: float, *, sound: bool = True) -> Path:
    """A clip that compresses badly (moving noise), to push against budgets."""
    return clip(path, seconds, size="640x480", rate=25, sound=sound,
                source="testsrc2", vcodec=("-vf", "noise=alls=60:allf=t+u", "-c:v", "libx264",
                                           "-preset", "ultrafast", "-pix_fmt", "yuv420p"))


@pytest.fixture(scope="module")
def clips(tmp_path_factory: pytest.TempPathFactory) -> Callable[..., Path]:
    """Clips made once per module, by name."""
    folder = tmp_path_factory.mktemp("clips")
    made: dict[str, Path] = {}

    def get(name: str, maker: Callable[[Path], Path]) -> Path:
        if name not in made:
            made[name] = maker(folder / name)
        return made[name]

    return get


def headers_only(path: Path) -> Path:
    """A faststart MP4 cut just before its media data: it probes as 3 s but holds no frames."""
    data = path.read_bytes()
    return fresh(path.parent, "cut.mp4", data[: data.index(b"mdat") + 4])


# ---- running the pipeline

_serial = itertools.count()


def fresh(folder: Path, name: str, data: bytes | None = None) -> Path:
    """A new path under ``folder``: written with ``data``, or a new empty folder."""
    path = folder / f"{next(_serial)}-{name}"
    if data is None:
        path.mkdir()
    else:
        path.write_bytes(data)
    return path


async def prepare(path: Path, model: ModelSpec, tmp_path: Path, **target: Any) -> PreparedMedia:
    describe = target.pop("describe", None)
    return await prepare_video(path, await probe(path), name=path.name,
                               target=MediaTarget(model, **target),
                               workdir=fresh(tmp_path, "work"),
                               describe_audio=describe)


def only(media: PreparedMedia) -> PreparedPart:
    assert media.kind == "video" and len(media.parts) == 1
    return media.parts[0]


async def written(part: PreparedPart, tmp_path: Path) -> tuple[Path, MediaInfo]:
    """The part's MP4 on disk, and its probe."""
    url = part.part["video_url"]["url"]
    assert url.startswith("data:;base64,")
    path = fresh(tmp_path, "out.mp4", base64.b64decode(url.split(",", 1)[1]))
    return path, await probe(path)


def frames_of(part: PreparedPart) -> list[Image.Image]:
    images = []
    for url in part.part["video"]:
        assert url.startswith("data:image/jpeg;base64,")
        image = Image.open(io.BytesIO(base64.b64decode(url.split(",", 1)[1])))
        assert image.format == "JPEG"
        images.append(image)
    return images


async def assert_mp4(part: PreparedPart, tmp_path: Path, seconds: float) -> MediaInfo:
    """The part is an H.264 + mono AAC MP4 of about ``seconds``, at most 4 fps."""
    assert part.format == "mp4" and part.kind == "video"
    path, info = await written(part, tmp_path)
    decoded = decode(path)
    assert decoded.video_codec == "h264" and decoded.audio_codec == "aac"
    assert decoded.channels == "mono"
    assert abs(decoded.seconds - seconds) < 0.3
    assert info.fps is not None and info.fps <= video.MAX_FPS
    assert (info.width, info.height) == (part.width, part.height)
    assert part.width % 2 == 0 and part.height % 2 == 0
    return info


def send(server: FakeDashScope, model: ModelSpec, part: PreparedPart) -> str:
    """Send the part and a question with the real openai client; the reply text."""
    client = OpenAI(api_key=server.api_key, base_url=server.base_url, max_retries=0, timeout=60)
    stream = client.chat.completions.create(
        model=model.name, stream=True, stream_options={"include_usage": True},
        messages=[{"role": "user", "content": [part.part, text_part("What happens here?")]}],
    )
    text = "".join(chunk.choices[0].delta.content or "" for chunk in stream if chunk.choices)
    client.close()
    return text


async def accepted(server: FakeDashScope, model: ModelSpec, part: PreparedPart) -> str:
    text = await asyncio.to_thread(send, server, model, part)
    assert not server.rejections, server.rejections
    assert len(server.accepted) == 1
    return text


# ---- videos with sound become small MP4s


async def test_mp4_with_sound_is_reencoded_small(tmp_path: Path, clips: Callable,
                                                 dashscope: FakeDashScope) -> None:
    source = clips("25fps.mp4", lambda p: clip(p, 6, rate=25))
    media = await prepare(source, FLASH, tmp_path)
    part = only(media)
    await assert_mp4(part, tmp_path, 6.0)
    assert (part.width, part.height) == (320, 240)  # never enlarged to the model's 320x256
    assert part.seconds == pytest.approx(6.0, abs=0.1)
    limits = FLASH.video
    assert limits is not None
    expected = video_tokens(320, 240, part.seconds, 4.0, limits) + audio_tokens(
        part.seconds, FLASH.audio)
    assert part.tokens == expected
    assert media.notices == () and media.extra_text == ""
    assert part.inline_bytes < source.stat().st_size * 4 / 3
    assert "[saw 1 video (6.0 s)]" in await accepted(dashscope, FLASH, part)


CONTAINERS = {
    "mov": ("clip.mov", ("-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p"),
            ("-c:a", "aac")),
    "mkv": ("clip.mkv", ("-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p"),
            ("-c:a", "libopus")),
    "webm": ("clip.webm", ("-c:v", "libvpx", "-deadline", "realtime", "-cpu-used", "8"),
             ("-c:a", "libvorbis")),
    "avi": ("clip.avi", ("-c:v", "mpeg4", "-q:v", "5"), ("-c:a", "libmp3lame")),
}


@pytest.mark.parametrize("container", sorted(CONTAINERS))
async def test_other_containers_become_mp4(container: str, tmp_path: Path,
                                           dashscope: FakeDashScope) -> None:
    name, vcodec, acodec = CONTAINERS[container]
    if container == "webm":
        require_encoder("libvpx")
    source = clip(tmp_path / name, 3, vcodec=vcodec, acodec=acodec)
    media = await prepare(source, TURBO, tmp_path)
    part = only(media)
    await assert_mp4(part, tmp_path, 3.0)
    assert media.source_format == container
    await accepted(dashscope, TURBO, part)


async def test_rotated_video_keeps_its_display_orientation(tmp_path: Path,
                                                           clips: Callable) -> None:
    plain = clips("plain.mp4", lambda p: clip(p, 3))
    rotated = tmp_path / "rotated.mp4"
    ffmpeg("-display_rotation", "90", "-i", str(plain), "-c", "copy", str(rotated))
    assert (await probe(rotated)).rotation in (90, 270)
    part = only(await prepare(rotated, FLASH, tmp_path))
    info = await assert_mp4(part, tmp_path, 3.0)
    assert (part.width, part.height) == (240, 320)
    assert info.rotation == 0  # turned for real, not by a display matrix


@pytest.mark.parametrize("model", [FLASH, TURBO], ids=["flash", "turbo"])
async def test_1080p_is_downscaled_to_the_model_frame_size(model: ModelSpec, tmp_path: Path,
                                                           clips: Callable) -> None:
    source = clips("1080p.mp4", lambda p: clip(p, 10, size="1920x1080", rate=10))
    part = only(await prepare(source, model, tmp_path))
    await assert_mp4(part, tmp_path, 10.0)
    limits = model.video
    assert limits is not None
    nframes = video_frame_count(40, 4.0, limits)
    assert (part.width, part.height) == video_frame_size(1920, 1080, nframes, limits)
    assert part.width < 1920 and part.height < 1080
    assert part.width % limits.block_px == 0 and part.height % limits.block_px == 0


LIMIT_CASES = [
    (FLASH, 150.0, False), (FLASH, 149.5, False), (FLASH, 153.0, True),
    (TURBO, 40.0, False), (TURBO, 39.5, False), (TURBO, 43.0, True),
]


@pytest.mark.parametrize(("model", "seconds", "trimmed"), LIMIT_CASES,
                         ids=[f"{m.name}-{s:g}s" for m, s, _ in LIMIT_CASES])
async def test_duration_limits(model: ModelSpec, seconds: float, trimmed: bool, tmp_path: Path,
                               clips: Callable, dashscope: FakeDashScope) -> None:
    source = clips(f"{seconds:g}s.mp4",
                   lambda p: pattern_video(p, seconds, size=SMALL, rate=5))
    limits = model.video
    assert limits is not None
    media = await prepare(source, model, tmp_path)
    part = only(media)
    expected = min(seconds, limits.max_seconds)
    await assert_mp4(part, tmp_path, expected)
    assert part.seconds is not None and part.seconds <= limits.max_seconds
    if trimmed:
        limit = {150: "2 min 30 s", 40: "40 s"}[int(limits.max_seconds)]
        assert media.notices == (f"trimmed to the first {limit}",)
    else:
        assert media.notices == ()
    assert "[saw 1 video" in await accepted(dashscope, model, part)


# ---- the whole of a long video, as frames


async def describe(path: Path) -> str:
    assert await aiofiles.os.path.exists(path)
    return SOUND_TEXT


async def refuse(path: Path) -> str:
    raise MediaError("the captioner is unavailable")


@pytest.mark.parametrize("model", [FLASH, TURBO], ids=["flash", "turbo"])
async def test_whole_long_video_is_sampled_with_its_sound_as_text(
        model: ModelSpec, tmp_path: Path, clips: Callable, dashscope: FakeDashScope) -> None:
    source = clips("200s.mp4", lambda p: pattern_video(p, 200, size=SMALL, rate=5))
    media = await prepare(source, model, tmp_path, whole_video=True, describe=describe)
    part = only(media)
    list_limits, limits = model.image_list, model.video
    assert list_limits is not None and limits is not None
    count = list_limits.max_images
    assert part.format == "frames" and part.frames == count == len(part.part["video"])
    assert media.notices == (f"shown as {count} frames from the whole 3:20 video",)
    assert media.extra_text == f"Sound of the video: {SOUND_TEXT}"
    images = frames_of(part)
    assert {image.size for image in images} == {(part.width, part.height)}
    assert part.tokens == image_list_tokens(part.width, part.height, count, limits)
    assert f"[saw 1 video of {count} frames]" in await accepted(dashscope, model, part)


@pytest.mark.parametrize("describer", [None, refuse], ids=["no-describer", "describer-fails"])
async def test_whole_video_without_description_says_sound_was_left_out(
        describer: Any, tmp_path: Path, clips: Callable) -> None:
    source = clips("200s.mp4", lambda p: pattern_video(p, 200, size=SMALL, rate=5))
    media = await prepare(source, FLASH, tmp_path, whole_video=True, describe=describer)
    assert only(media).frames == 128
    assert media.extra_text == ""
    assert media.notices[-1] == "its sound was not included"


async def test_short_video_ignores_whole_video_flag(tmp_path: Path, clips: Callable) -> None:
    source = clips("plain.mp4", lambda p: clip(p, 3))
    media = await prepare(source, TURBO, tmp_path, whole_video=True, describe=describe)
    assert only(media).format == "mp4" and media.extra_text == ""


# ---- silent videos, as frames


SILENT_CASES = [
    (FLASH, 1.0, 2), (TURBO, 1.0, 4), (FLASH, 0.4, 2), (TURBO, 0.4, 4),
    (FLASH, 10.0, 20), (TURBO, 10.0, 20), (FLASH, 100.0, 128), (TURBO, 100.0, 80),
]


@pytest.mark.parametrize(("model", "seconds", "count"), SILENT_CASES,
                         ids=[f"{m.name}-{s:g}s" for m, s, _ in SILENT_CASES])
async def test_silent_video_becomes_an_image_list(
        model: ModelSpec, seconds: float, count: int, tmp_path: Path, clips: Callable,
        dashscope: FakeDashScope) -> None:
    source = clips(f"silent-{seconds:g}s.mp4",
                   lambda p: clip(p, seconds, size=SMALL, rate=5, sound=False))
    media = await prepare(source, model, tmp_path)
    part = only(media)
    list_limits = model.image_list
    assert list_limits is not None
    assert list_limits.min_images <= count <= list_limits.max_images
    assert part.format == "frames" and part.frames == count
    assert media.notices == (f"video without sound shown as {count} frames",)
    assert all(image.size == (160, 120) for image in frames_of(part))
    assert f"[saw 1 video of {count} frames]" in await accepted(dashscope, model, part)


async def test_silent_1080p_frames_use_the_model_frame_size(tmp_path: Path) -> None:
    source = clip(tmp_path / "silent-hd.mp4", 3, size="1920x1080", rate=5, sound=False)
    part = only(await prepare(source, TURBO, tmp_path))
    assert TURBO.video is not None
    assert (part.width, part.height) == video_frame_size(1920, 1080, 6, TURBO.video)
    assert {image.size for image in frames_of(part)} == {(part.width, part.height)}


# ---- budgets


async def test_video_file_fits_a_small_budget(tmp_path: Path, clips: Callable,
                                              dashscope: FakeDashScope) -> None:
    source = clips("noisy.mp4", lambda p: noisy(p, 12))
    roomy_media = await prepare(source, FLASH, tmp_path)
    roomy = only(roomy_media)
    budget = roomy.inline_bytes // 3
    tight_media = await prepare(source, FLASH, tmp_path, budget_bytes=budget)
    tight = only(tight_media)
    assert tight.inline_bytes <= budget < roomy.inline_bytes
    assert tight_media.details["video_kbps"] < roomy_media.details["video_kbps"]
    await assert_mp4(tight, tmp_path, 12.0)
    await accepted(dashscope, FLASH, tight)


async def test_overshoot_is_reencoded_once_at_a_lower_bitrate(
        tmp_path: Path, clips: Callable, monkeypatch: pytest.MonkeyPatch) -> None:
    source = clips("noisy.mp4", lambda p: noisy(p, 12))
    encodes = []
    real_encode = video._encode

    async def counting(*args: Any) -> float:
        encodes.append(args[1].bitrate)
        return await real_encode(*args)

    monkeypatch.setattr(video, "_encode", counting)
    monkeypatch.setattr(video, "BUDGET_MARGIN", 4.0)  # aims far over budget on purpose
    budget = 400_000
    part = only(await prepare(source, FLASH, tmp_path, budget_bytes=budget))
    assert len(encodes) == 2 and encodes[1] < encodes[0]
    assert part.inline_bytes <= budget


async def test_impossible_video_budget_is_a_media_error(tmp_path: Path, clips: Callable) -> None:
    source = clips("noisy.mp4", lambda p: noisy(p, 12))
    with pytest.raises(MediaError, match="cannot be made small enough"):
        await prepare(source, FLASH, tmp_path, budget_bytes=40_000)


async def test_frames_fit_a_small_budget(tmp_path: Path, clips: Callable,
                                         dashscope: FakeDashScope) -> None:
    source = clips("noisy-silent.mp4", lambda p: noisy(p, 12, sound=False))
    roomy = only(await prepare(source, TURBO, tmp_path))
    assert roomy.frames == 24
    lighter = await prepare(source, TURBO, tmp_path, budget_bytes=roomy.inline_bytes // 3)
    assert only(lighter).frames == 24  # lower JPEG quality first
    assert only(lighter).inline_bytes <= roomy.inline_bytes // 3
    assert lighter.details["jpeg_q"] > video.JPEG_QUALITIES[0]
    budget = roomy.inline_bytes // 20
    media = await prepare(source, TURBO, tmp_path, budget_bytes=budget)
    part = only(media)
    assert part.inline_bytes <= budget
    assert media.details["jpeg_q"] == video.JPEG_QUALITIES[-1]
    assert part.frames is not None and 4 <= part.frames < 24 and part.frames % 2 == 0
    assert part.frames == len(part.part["video"])
    await accepted(dashscope, TURBO, part)


async def test_impossible_frames_budget_is_a_media_error(tmp_path: Path,
                                                         clips: Callable) -> None:
    source = clips("noisy-silent.mp4", lambda p: noisy(p, 12, sound=False))
    with pytest.raises(MediaError, match="cannot be made small enough"):
        await prepare(source, TURBO, tmp_path, budget_bytes=5_000)


# ---- broken files


async def test_random_bytes_are_a_media_error(tmp_path: Path) -> None:
    path = fresh(tmp_path, "random.mp4", os.urandom(50_000))
    info = MediaInfo(container="mov,mp4", duration=5.0, audio_codec="aac", video_codec="h264",
                     width=320, height=240, fps=25.0)
    with pytest.raises(MediaError, match="could not be decoded"):
        await prepare_video(path, info, name="random.mp4", target=MediaTarget(FLASH),
                            workdir=fresh(tmp_path, "work"))


@pytest.mark.parametrize("sound", [True, False], ids=["sound", "silent"])
async def test_video_with_no_decodable_frames_is_a_media_error(sound: bool,
                                                               tmp_path: Path) -> None:
    whole = clip(tmp_path / "whole.mp4", 3, sound=sound,
                 vcodec=("-c:v", "libx264", "-preset", "ultrafast", "-movflags", "+faststart"))
    cut = headers_only(whole)
    info = await probe(cut)
    assert info.has_video and info.duration == pytest.approx(3.0, abs=0.1)
    with pytest.raises(MediaError, match="decoded"):
        await prepare(cut, TURBO, tmp_path)


def test_timeouts_scale_with_duration() -> None:
    assert ffmpeg_timeout(0) == video.TIMEOUT_BASE
    assert ffmpeg_timeout(100) == video.TIMEOUT_BASE + 100 * video.TIMEOUT_PER_SECOND
    assert ffmpeg_timeout(10_000) == video.TIMEOUT_CAP
