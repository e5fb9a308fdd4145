"""Videos converted for the Qwen-Omni chat models.

A video with sound that fits the model's duration limit goes as one small MP4 (H.264 and mono
AAC) at the frame size and a frame rate no finer than what the model samples, with a bitrate
chosen so the file fits the item's inline-media budget. A longer one is trimmed to the limit,
or, when the member asked about the whole video, shown as frames spread evenly over its whole
length, its sound given beside them as text. A video without sound always goes as frames (the
API's image-list form of a video): 2 per second, or spread evenly when that would be too many.

Every ffmpeg run is bounded whatever the probe said: it reads at most the planned length
(``-t``), writes at most a set number of frames or bytes (``-frames:v``, ``-fs``), and is
killed at its timeout.
"""

from __future__ import annotations

import asyncio
import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import aiofiles.os
from omnicord.errors import MediaError, OmnicordError
from omnicord.i18n import text
from omnicord.media.durations import clock, limit_duration
from omnicord.media.ffmpeg import ffmpeg_process
from omnicord.media.frames import fewer, spread
from omnicord.media.probe import MediaInfo
from omnicord.media.tempfiles import read_file
from omnicord.media.tokens import (
    audio_tokens,
    image_list_tokens,
    video_frame_count,
    video_frame_size,
    video_tokens,
)
from omnicord.media.types import (
    AudioDescriber,
    MediaTarget,
    Notice,
    PreparedMedia,
    PreparedPart,
)
from omnicord.model.catalog import ImageListLimits, ModelSpec, VideoLimits
from omnicord.model.parts import data_url_chars, image_list_part, video_part

#: Highest frame rate kept in a video file: the model samples 2 per second.
MAX_FPS = 4.0
AUDIO_BITRATE = 48_000
#: x264 quality; -maxrate/-bufsize cap the bitrate where the budget demands less.
VIDEO_CRF = 26
MIN_VIDEO_BITRATE = 40_000
MAX_VIDEO_BITRATE = 1_500_000
#: Share of the budget the first encode aims at; the retry aims lower still.
BUDGET_MARGIN = 0.92
RETRY_MARGIN = 0.85
MUX_OVERHEAD_BYTES = 8_000
MUX_OVERHEAD_PER_SECOND = 400  # MP4 sample tables grow with length
VBV_SECONDS = 1.0  # -bufsize as seconds of -maxrate: the worst overshoot over a whole file
#: ffmpeg's JPEG quantiser (-q:v), best first; frames are recompressed down this ladder to fit.
JPEG_QUALITIES = (3, 6, 10, 16, 24)
FRAME_SHRINK_MARGIN = 0.95
#: ffmpeg time allowed per job: a base plus so much per second of video, up to a cap.
TIMEOUT_BASE = 30.0
TIMEOUT_PER_SECOND = 2.0
TIMEOUT_CAP = 900.0
MIN_SIDE_PX = 11  # the API refuses images with a side of 10 px or less
#: A video whose header gives no length is measured by reading it, up to this many seconds.
UNKNOWN_LENGTH_CAP = 8 * 3600.0
#: An encode may write this many times its budget before ffmpeg is stopped (-fs): a bound on
#: disk use that leaves the one retry at a lower bitrate room to see how far over it was.
OUTPUT_CAP_FACTOR = 8

_VIDEO_URL_PREFIX = data_url_chars(0)
_FRAME_MIME = "image/jpeg"
_FRAME_NAME = "f_%04d.jpg"

DECODE_FAILED = text("errors.video_undecodable")
NO_PICTURES = text("errors.video_no_pictures")
TOO_BIG = text("errors.video_too_big")


def ffmpeg_timeout(seconds: float) -> float:
    """Seconds an ffmpeg job on ``seconds`` of video may take."""
    return min(TIMEOUT_BASE + TIMEOUT_PER_SECOND * max(seconds, 0.0), TIMEOUT_CAP)


@dataclass(frozen=True)
class _Source:
    """The member's video as read: length and display size (after rotation)."""

    path: Path
    info: MediaInfo
    seconds: float
    width: int
    height: int


@dataclass(frozen=True)
class _FilePlan:
    """How the MP4 is written."""

    seconds: float
    width: int
    height: int
    fps: float
    resample: bool  # whether an fps filter lowers the frame rate
    bitrate: int


@dataclass(frozen=True)
class _Frames:
    """JPEG frames ready to send."""

    images: list[bytes]
    width: int
    height: int
    quality: int


async def prepare_video(
    path: Path, info: MediaInfo, *, name: str, target: MediaTarget, workdir: Path,
    describe_audio: AudioDescriber | None = None,
) -> PreparedMedia:
    """Convert a video for ``target.model``: an MP4 with sound, or an image list of frames.

    ``info`` is ``probe(path)``; ``workdir`` is a scratch folder the caller removes. Raises
    MediaError (with a sentence fit for the member) when the video cannot be decoded or made
    to fit ``target.budget_bytes``.
    """
    limits, list_limits = _video_limits(target.model)
    src = await _source(path, info)
    folder = workdir / "video"
    await aiofiles.os.makedirs(folder, exist_ok=True)
    if not info.has_audio:
        media = await _frames_media(src, target, folder, limits, list_limits)
        notice = Notice(text("chat.notice_silent_video_frames", count=media.parts[0].frames))
        return _finish(media, name, info, notices=(notice,))
    if src.seconds <= limits.max_seconds or not target.whole_video:
        return _finish(await _file_media(src, target, folder, limits), name, info)
    return await _whole_video(src, name, target, folder, describe_audio)


def _video_limits(model: ModelSpec) -> tuple[VideoLimits, ImageListLimits]:
    if model.video is None or model.image_list is None:
        raise MediaError(text("errors.model_takes_no_video", model=model.name))
    return model.video, model.image_list


def _finish(media: PreparedMedia, name: str, info: MediaInfo, *,
            notices: tuple[str, ...] = (), extra_text: str = "") -> PreparedMedia:
    return PreparedMedia(
        name=name, kind="video", parts=media.parts, notices=(*media.notices, *notices),
        source_format=_source_format(name, info), extra_text=extra_text, details=media.details,
    )


def _source_format(name: str, info: MediaInfo) -> str:
    suffix = Path(name).suffix.lower().lstrip(".")
    return suffix or info.container.split(",")[0]


async def _source(path: Path, info: MediaInfo) -> _Source:
    size = info.display_size
    if size is None or min(size) <= 0:
        raise MediaError(NO_PICTURES)
    seconds = info.duration or await _measure_seconds(path)
    if seconds <= 0:
        raise MediaError(NO_PICTURES)
    return _Source(path, info, seconds, *size)


async def _measure_seconds(path: Path) -> float:
    """Length of the picture stream, for files whose header does not say (live recordings)."""
    args = ["-t", f"{UNKNOWN_LENGTH_CAP:.0f}", "-i", str(path), "-map", "0:v:0", "-c", "copy",
            "-f", "null", "-"]
    _, seconds = await _run(args, timeout=TIMEOUT_CAP)
    return seconds


async def _run(args: Sequence[str], *, timeout: float) -> tuple[int, float]:
    """Run ffmpeg; return (frames written, seconds written) from its progress report."""
    status, out, _ = await ffmpeg_process(
        ["-progress", "pipe:1", "-nostats", *args], timeout=timeout
    )
    if status != 0:
        raise MediaError(DECODE_FAILED)
    report: dict[str, str] = {}
    for line in out.decode("utf-8", "replace").splitlines():
        key, _, value = line.partition("=")
        report[key.strip()] = value.strip()
    frames = int(report["frame"]) if report.get("frame", "").isdigit() else 0
    micros = report.get("out_time_us", "")
    seconds = int(micros) / 1e6 if micros.lstrip("-").isdigit() else 0.0
    return frames, max(seconds, 0.0)


def _scaled_size(width: int, height: int, model_size: tuple[int, int]) -> tuple[int, int]:
    """The model's frame size, but never larger than the source (even sides, for H.264)."""
    model_w, model_h = model_size
    return min(model_w, _even(width)), min(model_h, _even(height))


def _even(number: float) -> int:
    return max(2, int(number) - int(number) % 2)


# ---- a video file with sound


async def _file_media(src: _Source, target: MediaTarget, folder: Path,
                      limits: VideoLimits) -> PreparedMedia:
    plan = _file_plan(src, target, limits)
    out = folder / "video.mp4"
    cap = OUTPUT_CAP_FACTOR * target.budget_bytes
    seconds = await _encode(src, plan, out, cap)
    data = await read_file(out)
    if data_url_chars(len(data)) > target.budget_bytes:
        plan = _retry_plan(plan, len(data), target.budget_bytes)
        seconds = await _encode(src, plan, out, cap)
        data = await read_file(out)
        if data_url_chars(len(data)) > target.budget_bytes:
            raise MediaError(TOO_BIG)
    tokens = video_tokens(plan.width, plan.height, seconds, plan.fps, limits) + audio_tokens(
        seconds, target.model.audio
    )
    part = PreparedPart(
        part=video_part(data), kind="video", format="mp4", tokens=tokens, seconds=seconds,
        width=plan.width, height=plan.height, start=0.0, end=seconds,
    )
    notices: tuple[str, ...] = ()
    if src.seconds > limits.max_seconds:
        notices = (Notice(text("chat.notice_trimmed", limit=limit_duration(limits.max_seconds))),)
    details: dict[str, float | int | str] = {"video_kbps": plan.bitrate // 1000,
                                             "mp4_bytes": len(data)}
    return PreparedMedia(name="", kind="video", parts=(part,), notices=notices, details=details)


def _file_plan(src: _Source, target: MediaTarget, limits: VideoLimits) -> _FilePlan:
    seconds = min(src.seconds, limits.max_seconds)
    source_fps = src.info.fps
    resample = source_fps is None or source_fps > MAX_FPS
    fps = MAX_FPS if resample or source_fps is None else source_fps
    nframes = video_frame_count(max(1, round(seconds * fps)), fps, limits)
    model_size = video_frame_size(
        src.width, src.height, max(nframes, limits.frame_factor), limits
    )
    width, height = _scaled_size(src.width, src.height, model_size)
    bitrate = _bitrate(seconds, target.budget_bytes, BUDGET_MARGIN)
    return _FilePlan(seconds, width, height, fps, resample, bitrate)


def _bitrate(seconds: float, budget: int, margin: float) -> int:
    """Video bits per second that keep the whole MP4's data URL within ``budget``."""
    raw_bytes = (budget - _VIDEO_URL_PREFIX) * 3 / 4 * margin
    overhead = MUX_OVERHEAD_BYTES + MUX_OVERHEAD_PER_SECOND * seconds
    bits = (raw_bytes - overhead) * 8 - AUDIO_BITRATE * seconds
    bitrate = int(min(bits / (seconds + VBV_SECONDS), MAX_VIDEO_BITRATE))
    if bitrate < MIN_VIDEO_BITRATE:
        raise MediaError(TOO_BIG)
    return bitrate


def _retry_plan(plan: _FilePlan, size: int, budget: int) -> _FilePlan:
    """A lower bitrate, in proportion, after an encode of ``size`` bytes came out over budget."""
    allowed_bits = (budget - _VIDEO_URL_PREFIX) * 3 / 4 * RETRY_MARGIN * 8
    audio_bits = AUDIO_BITRATE * plan.seconds
    scale = (allowed_bits - audio_bits) / max(size * 8 - audio_bits, 1.0)
    bitrate = int(plan.bitrate * min(scale, 1.0))
    if bitrate < MIN_VIDEO_BITRATE:
        raise MediaError(TOO_BIG)
    return _FilePlan(plan.seconds, plan.width, plan.height, plan.fps, plan.resample, bitrate)


async def _encode(src: _Source, plan: _FilePlan, out: Path, max_bytes: int) -> float:
    """Write the MP4 (at most ``plan.seconds`` read, about ``max_bytes`` written)."""
    filters = [f"fps={plan.fps:g}"] if plan.resample else []
    filters += [f"scale={plan.width}:{plan.height}", "setsar=1"]
    args = [
        "-t", f"{plan.seconds:.3f}", "-i", str(src.path), "-map", "0:v:0", "-map", "0:a:0?",
        "-t", f"{plan.seconds:.3f}", "-fs", str(max_bytes),
        "-vf", ",".join(filters),
        "-c:v", "libx264", "-preset", "veryfast", "-crf", str(VIDEO_CRF),
        "-maxrate", str(plan.bitrate), "-bufsize", str(int(plan.bitrate * VBV_SECONDS)),
        "-pix_fmt", "yuv420p",
        "-c:a", "aac", "-b:a", str(AUDIO_BITRATE), "-ac", "1",
        # No location or device metadata leaves with the member's video.
        "-map_metadata", "-1", "-map_chapters", "-1", "-movflags", "+faststart",
        "-y", str(out),
    ]
    frames, seconds = await _run(args, timeout=ffmpeg_timeout(plan.seconds))
    if frames == 0:
        raise MediaError(NO_PICTURES)
    return min(seconds, plan.seconds) if seconds > 0 else plan.seconds


# ---- frames (image list)


async def _whole_video(src: _Source, name: str, target: MediaTarget, folder: Path,
                       describe_audio: AudioDescriber | None) -> PreparedMedia:
    limits, list_limits = _video_limits(target.model)
    async with asyncio.TaskGroup() as group:
        frames = group.create_task(_frames_media(src, target, folder, limits, list_limits))
        sound = group.create_task(_describe(describe_audio, src.path))
    media = frames.result()
    count = media.parts[0].frames
    notices: list[str] = [Notice(text("chat.notice_video_frames", count=count,
                                      length=clock(src.seconds)))]
    description = sound.result()
    if description is None:
        notices.append(Notice(text("chat.notice_sound_left_out")))
    extra_text = f"Sound of the video: {description}" if description else ""
    return _finish(media, name, src.info, notices=tuple(notices), extra_text=extra_text)


async def _describe(describe_audio: AudioDescriber | None, path: Path) -> str | None:
    if describe_audio is None:
        return None
    try:
        text = (await describe_audio(path)).strip()
    except OmnicordError:
        return None  # the pictures still go; the notice says the sound did not
    return text or None


async def _frames_media(src: _Source, target: MediaTarget, folder: Path, limits: VideoLimits,
                        list_limits: ImageListLimits) -> PreparedMedia:
    count = _frame_count(src.seconds, limits, list_limits)
    frames = await _frames(src, folder, count, limits, list_limits, target.budget_bytes)
    used = len(frames.images)
    tokens = image_list_tokens(frames.width, frames.height, used, limits)
    part = PreparedPart(
        part=image_list_part(frames.images), kind="video", format="frames", tokens=tokens,
        seconds=src.seconds, width=frames.width, height=frames.height, frames=used,
        start=0.0, end=src.seconds,
    )
    details: dict[str, float | int | str] = {"jpeg_q": frames.quality, "frames": used}
    return PreparedMedia(name="", kind="video", parts=(part,), details=details)


def _frame_count(seconds: float, limits: VideoLimits, list_limits: ImageListLimits) -> int:
    """Frames for the image list: 2 per second, within the API's range, a multiple of 2."""
    wanted = math.ceil(seconds * limits.fps)
    count = min(max(wanted, list_limits.min_images), list_limits.max_images)
    count -= count % limits.frame_factor
    return max(count, list_limits.min_images)


async def _frames(src: _Source, folder: Path, count: int, limits: VideoLimits,
                  list_limits: ImageListLimits, budget: int) -> _Frames:
    width, height = _frame_size(src, count, limits)
    originals = folder / "frames"
    await aiofiles.os.makedirs(originals, exist_ok=True)
    quality = JPEG_QUALITIES[0]
    await _extract(src, originals, count, (width, height), quality)
    images = await _read_frames(originals)
    if not images:
        raise MediaError(NO_PICTURES)
    for lower in JPEG_QUALITIES[1:]:
        if _frames_chars(images) <= budget:
            break
        quality = lower
        images = await _recompress(originals, folder / f"q{lower}", quality)
    images = _pad(images, list_limits.min_images, limits.frame_factor)
    images = _fewer_frames(images, budget, list_limits.min_images, limits.frame_factor)
    return _Frames(images, width, height, quality)


def _frame_size(src: _Source, count: int, limits: VideoLimits) -> tuple[int, int]:
    model_size = video_frame_size(src.width, src.height, count, limits)
    if min(src.width, src.height) < MIN_SIDE_PX:
        return model_size  # enlarged: the API refuses pictures this small
    return _scaled_size(src.width, src.height, model_size)


async def _extract(src: _Source, folder: Path, count: int, size: tuple[int, int],
                   quality: int) -> None:
    """Write ``count`` evenly spaced frames as numbered JPEGs, in one decoding pass."""
    rate = count / src.seconds
    args = [
        "-t", f"{src.seconds:.3f}", "-i", str(src.path), "-map", "0:v:0",
        "-vf", f"fps={rate:.6f},scale={size[0]}:{size[1]}",
        "-frames:v", str(count), "-q:v", str(quality), "-fps_mode", "passthrough",
        "-f", "image2", "-y", str(folder / _FRAME_NAME),
    ]
    await _run(args, timeout=ffmpeg_timeout(src.seconds))


async def _recompress(originals: Path, folder: Path, quality: int) -> list[bytes]:
    """The frames again at a lower JPEG quality (a quick pass over the small stills)."""
    await aiofiles.os.makedirs(folder, exist_ok=True)
    args = [
        "-i", str(originals / _FRAME_NAME), "-q:v", str(quality),
        "-f", "image2", "-y", str(folder / _FRAME_NAME),
    ]
    await _run(args, timeout=TIMEOUT_BASE)
    return await _read_frames(folder)


async def _read_frames(folder: Path) -> list[bytes]:
    names = sorted(n for n in await aiofiles.os.listdir(folder) if n.endswith(".jpg"))
    return [await read_file(folder / n) for n in names]


def _frames_chars(images: Sequence[bytes]) -> int:
    return sum(data_url_chars(len(image), _FRAME_MIME) for image in images)


def _fewer_frames(images: list[bytes], budget: int, minimum: int, factor: int) -> list[bytes]:
    """Drop frames evenly until the list fits ``budget``; MediaError below ``minimum``."""
    while (size := _frames_chars(images)) > budget:
        kept = fewer(images, budget / size * FRAME_SHRINK_MARGIN, minimum=minimum,
                     factor=factor)
        if kept is None:
            raise MediaError(TOO_BIG)
        images = kept
    return images


def _pad(images: list[bytes], minimum: int, factor: int) -> list[bytes]:
    """At least ``minimum`` frames, a multiple of ``factor`` (very short clips repeat frames)."""
    wanted = max(minimum, math.ceil(len(images) / factor) * factor)
    return images if len(images) == wanted else spread(images, wanted)
