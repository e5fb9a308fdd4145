"""Offline HTTP test double of DashScope's OpenAI-compatible Chat Completions endpoint.

``FakeDashScope`` is a real aiohttp server on 127.0.0.1 (a free port), run in a background
thread with its own event loop, so sync tests (including ones that drive the CLI in a
subprocess) and async tests can all talk to it over plain HTTP.

It enforces the Qwen-Omni / Qwen3-Omni-Captioner API rules from the vendor pages on its own,
with its own small table of limits (it deliberately imports nothing from the ``bot`` package):
model names, streaming-only Omni models, one non-text modality per user message, text-only
assistant history, output modalities and voices, thinking mode, data URLs, real media decoding
(Pillow for images, the ``imageio_ffmpeg`` ffmpeg binary for audio and video durations), and a
cheap estimate of prompt tokens against each model's maximum input.

Accepted requests get a stream shaped like DashScope's ``chat.completion.chunk`` events: a role
chunk, optional ``reasoning_content`` deltas, text deltas a few words each, optional
``delta.audio`` chunks carrying real 24 kHz mono int16 PCM (a 440 Hz tone whose length is
``FakeDashScope.expected_audio_seconds(reply)``), a transcript chunk, a ``finish_reason: stop``
chunk (``length`` when the reply was cut at ``max_tokens`` or the model's output limit), an
optional usage chunk and ``data: [DONE]``.

The default reply is ``"Echo: <last user text> [saw ...]"``: the bracketed tag describes the
media of the last user message: ``[saw 1 image]``, ``[saw 2 images]``,
``[saw 1 audio clip (2.0 s)]``, ``[saw 1 video (3.0 s)]`` or ``[saw 1 video of 4 frames]``.
The captioner replies ``"The audio contains a steady tone lasting about N.N seconds."``.

Chat models follow two instructions the way a real model would, deterministically. A user
message holding audio and asking to transcribe it gets ``"Hello, this is a recording of N.N
seconds."``, or, when the audio is silent (its peak under -50 dBFS, measured with ffmpeg's
volumedetect), the marker the instruction asks for (``answer with exactly "<marker>"``). A
system message asking to translate "into <Language>" gets ``"[<Language>] <user text>"``, or
its marker when the language is English (the only language this fake hears).

Faults (``Fault``) inject HTTP errors, mid-stream connection cuts, slow first tokens and
SSE error events, into any request or (``model=``) only into requests for one model. Check
order: API key (401), body size (``max_body_bytes``, 400), status faults, JSON, model (404),
then the rules (400). Being offline, the fake refuses media given
by remote URL: inline data URLs only. ``input_audio.format`` may be omitted (the seeds' curl
samples do); the sniffed container must then be one the model takes.
"""

from __future__ import annotations

import array
import asyncio
import base64
import binascii
import contextlib
import hashlib
import io
import json
import math
import os
import re
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections import OrderedDict
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from typing import Any

import imageio_ffmpeg
from aiohttp import web
from PIL import Image

API_PREFIX = "/compatible-mode/v1"
MAX_BODY_BYTES = 6_291_456
MAX_DATA_URI_BYTES = 10_485_760
MB = 1024 * 1024

SAMPLE_RATE = 24_000
AUDIO_SECONDS_PER_CHAR = 0.06
MAX_AUDIO_SECONDS = 8.0
AUDIO_CHUNK_SECONDS = 0.2
TONE_HZ = 440.0
TONE_AMPLITUDE = 0.3
WORDS_PER_DELTA = 3

FLASH_VOICES = (
    "Cherry", "Ethan", "Nofish", "Jennifer", "Ryan", "Katerina", "Elias", "Jada", "Dylan",
    "Sunny", "Li", "Marcus", "Roy", "Peter", "Rocky", "Kiki", "Eric",
)
TURBO_VOICES = ("Cherry", "Serena", "Ethan", "Chelsie")
SEVEN_B_VOICES = ("Ethan", "Chelsie")
CHAT_AUDIO_FORMATS = frozenset({"mp3", "wav"})
CAPTIONER_AUDIO_FORMATS = frozenset({"amr", "wav", "3gp", "3gpp", "aac", "mp3"})

SILENCE_DB = -50.0  # a transcription request's audio quieter than this holds no speech
INSPECTION_MESSAGE = "Output data may contain inappropriate content."
STREAM_ONLY_MESSAGE = (
    "This model only support stream mode, please enable the stream parameter to access the model."
)


# --------------------------------------------------------------------------- limits table


@dataclass(frozen=True)
class ModelLimits:
    """The rules of one model family, as the vendor pages state them."""

    family: str  # "flash" | "turbo" | "7b" | "captioner"
    max_input: int
    max_output: int
    image_factor: int
    voices: tuple[str, ...] = ()
    max_input_thinking: int | None = None
    audio_formats: frozenset[str] = CHAT_AUDIO_FORMATS
    audio_max_seconds: float = 180.0
    audio_max_bytes: int = 10 * MB
    audio_tokens_per_second: float = 12.5
    video_max_seconds: float = 40.0
    video_max_bytes: int = 150 * MB
    video_frames: tuple[int, int] = (4, 80)
    stream_required: bool = True

    @property
    def thinking(self) -> bool:
        return self.max_input_thinking is not None


FLASH = ModelLimits(
    "flash", 49_152, 16_384, 32, FLASH_VOICES, max_input_thinking=16_384,
    audio_max_seconds=20 * 60.0, audio_max_bytes=100 * MB, video_max_seconds=150.0,
    video_max_bytes=256 * MB, video_frames=(2, 128),
)
TURBO = ModelLimits("turbo", 30_720, 2_048, 28, TURBO_VOICES, audio_tokens_per_second=25.0)
SEVEN_B = replace(TURBO, family="7b", voices=SEVEN_B_VOICES)
CAPTIONER = ModelLimits(
    "captioner", 32_768, 32_768, 32, audio_formats=CAPTIONER_AUDIO_FORMATS,
    audio_max_seconds=40 * 60.0, audio_max_bytes=MAX_DATA_URI_BYTES, stream_required=False,
)

MODELS: dict[str, ModelLimits] = {
    "qwen3-omni-flash": FLASH,
    "qwen3-omni-flash-2025-09-15": FLASH,
    "qwen3-omni-flash-0915": FLASH,
    "qwen-omni-turbo": TURBO,
    "qwen-omni-turbo-latest": TURBO,
    "qwen-omni-turbo-2025-03-26": TURBO,
    "qwen-omni-turbo-0326": TURBO,
    "qwen-omni-turbo-2025-01-19": TURBO,
    "qwen-omni-turbo-0119": TURBO,
    "qwen2.5-omni-7b": SEVEN_B,
    "qwen3-omni-30b-a3b-captioner": CAPTIONER,
}


# --------------------------------------------------------------------------- public types


@dataclass
class Fault:
    """One-shot or persistent fault injection (see the module docstring)."""

    status: int | None = None
    code: str | None = None
    message: str | None = None
    cut_after_chunks: int | None = None
    first_token_delay: float = 0.0
    times: int = 1
    error_event: bool = False
    garbage_at_chunk: int | None = None  # this chunk's data line is not JSON
    trickle_every: float | None = None  # after the first chunk, one more every N s, for ever
    model: str | None = None  # only requests for this model (None: any request)


class Rejection(Exception):
    """A request the fake refuses: HTTP status, DashScope error code and message."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message


def _bad(message: str) -> Rejection:
    return Rejection(400, "invalid_parameter_error", message)


DEFAULT_FAULT_CODES = {
    400: ("InvalidParameter", "The request is invalid."),
    401: ("InvalidApiKey", "Invalid API-key provided."),
    403: ("AccessDenied", "Access denied."),
    404: ("ModelNotFound", "The model does not exist or you do not have access to it."),
    429: ("Throttling.RateQuota", "Requests rate limit exceeded, please try again later."),
    500: ("InternalError", "An internal error has occured, please try again later."),
    503: ("ServiceUnavailable", "The service is temporarily unavailable."),
}


def _error_type(status: int) -> str:
    if status == 429:
        return "limit_requests"
    if status >= 500:
        return "internal_error"
    return "invalid_request_error"


def error_body(status: int, code: str, message: str) -> dict[str, Any]:
    """A DashScope-style error body."""
    return {
        "error": {"code": code, "message": message, "type": _error_type(status), "param": None},
        "request_id": str(uuid.uuid4()),
    }


# --------------------------------------------------------------------------- token estimates


def text_tokens(text: str) -> int:
    """Cheap text estimate: one token per three characters, plus one."""
    return len(text) // 3 + 1


def image_tokens(width: int, height: int, factor: int) -> int:
    """The vendor's ``token_calculate`` for one image."""
    h_bar = round(height / factor) * factor
    w_bar = round(width / factor) * factor
    min_pixels, max_pixels = 4 * factor * factor, 1280 * factor * factor
    if h_bar * w_bar > max_pixels:
        beta = math.sqrt((height * width) / max_pixels)
        h_bar = math.floor(height / beta / factor) * factor
        w_bar = math.floor(width / beta / factor) * factor
    elif h_bar * w_bar < min_pixels:
        beta = math.sqrt(min_pixels / (height * width))
        h_bar = math.ceil(height * beta / factor) * factor
        w_bar = math.ceil(width * beta / factor) * factor
    return int((h_bar * w_bar) / (factor * factor)) + 2


def video_tokens(width: int, height: int, nframes: int, factor: int) -> int:
    """The vendor's ``smart_resize`` per frame, two frames per temporal token, plus two."""
    nframes = max(2, nframes - nframes % 2)
    min_pixels = 128 * factor * factor
    max_pixels = max(min(768 * factor * factor, 16384 * factor * factor / nframes * 2),
                     int(min_pixels * 1.05))
    h_bar = max(factor, round(height / factor) * factor)
    w_bar = max(factor, round(width / factor) * factor)
    if h_bar * w_bar > max_pixels:
        beta = math.sqrt((height * width) / max_pixels)
        h_bar = math.floor(height / beta / factor) * factor
        w_bar = math.floor(width / beta / factor) * factor
    elif h_bar * w_bar < min_pixels:
        beta = math.sqrt(min_pixels / (height * width))
        h_bar = math.ceil(height * beta / factor) * factor
        w_bar = math.ceil(width * beta / factor) * factor
    return math.ceil(nframes / 2) * (h_bar // factor) * (w_bar // factor) + 2


def audio_tokens(seconds: float, per_second: float) -> int:
    """Audio tokens: a fixed rate per second, under one second counts as one."""
    return math.ceil(max(seconds, 1.0) * per_second)


# --------------------------------------------------------------------------- media decoding


@dataclass(frozen=True)
class MediaProbe:
    """What ffmpeg found when it decoded a file."""

    duration: float
    has_audio: bool
    width: int | None = None
    height: int | None = None


class MediaError(Exception):
    """ffmpeg could not decode the file."""


_PROBE_CACHE: OrderedDict[str, MediaProbe] = OrderedDict()
_PROBE_LOCK = threading.Lock()
_TIME_RE = re.compile(r"time=(\d+):(\d{2}):(\d{2}(?:\.\d+)?)")
_DURATION_RE = re.compile(r"Duration: (\d+):(\d{2}):(\d{2}(?:\.\d+)?)")
_VIDEO_RE = re.compile(r"Stream #\d+:\d+.*?: Video: .*?(\d{2,5})x(\d{2,5})")


def _hms(match: tuple[str, str, str]) -> float:
    return int(match[0]) * 3600 + int(match[1]) * 60 + float(match[2])


def _parse_ffmpeg_log(log: str) -> MediaProbe:
    inputs = re.split(r"Stream mapping:|Output #0", log, maxsplit=1)[0]
    times = _TIME_RE.findall(log)
    durations = _DURATION_RE.findall(inputs)
    duration = _hms(times[-1]) if times else (_hms(durations[0]) if durations else 0.0)
    video = _VIDEO_RE.search(inputs)
    return MediaProbe(
        duration=duration,
        has_audio=re.search(r"Stream #\d+:\d+.*?: Audio:", inputs) is not None,
        width=int(video.group(1)) if video else None,
        height=int(video.group(2)) if video else None,
    )


def _run_ffmpeg(data: bytes) -> MediaProbe:
    with tempfile.TemporaryDirectory(prefix="fake-dashscope-") as tmp:
        path = os.path.join(tmp, "media")
        with open(path, "wb") as handle:
            handle.write(data)
        cmd = [imageio_ffmpeg.get_ffmpeg_exe(), "-hide_banner", "-nostdin", "-i", path,
               "-f", "null", "-"]
        try:
            proc = subprocess.run(cmd, capture_output=True, timeout=60, check=False)
        except subprocess.TimeoutExpired as exc:
            raise MediaError("ffmpeg timed out") from exc
    if proc.returncode != 0:
        raise MediaError(proc.stderr.decode("utf-8", "replace")[-300:])
    return _parse_ffmpeg_log(proc.stderr.decode("utf-8", "replace"))


def probe_media(data: bytes) -> MediaProbe:
    """Decode ``data`` with ffmpeg (blocking; cached by content hash)."""
    key = hashlib.sha256(data).hexdigest()
    with _PROBE_LOCK:
        if key in _PROBE_CACHE:
            _PROBE_CACHE.move_to_end(key)
            return _PROBE_CACHE[key]
    probe = _run_ffmpeg(data)
    with _PROBE_LOCK:
        _PROBE_CACHE[key] = probe
        while len(_PROBE_CACHE) > 256:
            _PROBE_CACHE.popitem(last=False)
    return probe


def sniff_audio(data: bytes) -> str | None:
    """Guess an audio container from its first bytes."""
    if data[:4] == b"RIFF" and data[8:12] == b"WAVE":
        return "wav"
    if data[:3] == b"ID3":
        return "mp3"
    if data[:4] == b"OggS":
        return "ogg"
    if data.startswith(b"#!AMR"):
        return "amr"
    if data[4:8] == b"ftyp":
        return "3gp" if data[8:11] == b"3gp" else "mp4"
    if data[:4] == b"ADIF":
        return "aac"
    if data[:4] == b"fLaC":
        return "flac"
    if len(data) >= 2 and data[0] == 0xFF and data[1] & 0xE0 == 0xE0:
        return "aac" if data[1] & 0x06 == 0 else "mp3"
    return None


def decode_data_url(url: Any, what: str) -> bytes:
    """Check the ``data:<mime?>;base64,<b64>`` shape and the per-item limit, then decode."""
    if not isinstance(url, str) or not url:
        raise _bad(f"The {what} url must be a non-empty string.")
    if not url.startswith("data:"):
        raise _bad(f"The {what} url could not be downloaded: this offline fake only takes "
                   "inline data URLs (data:<mime>;base64,<data>).")
    if len(url) > MAX_DATA_URI_BYTES:
        raise _bad(f"Exceeded limit on max bytes per data-uri item : {MAX_DATA_URI_BYTES}")
    header, sep, payload = url.partition(",")
    if not sep or not header.endswith(";base64"):
        raise _bad(f"The {what} data url is invalid: the base64 keyword is required "
                   "(data:<mime>;base64,<data>).")
    try:
        data = base64.b64decode(payload, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise _bad(f"The {what} data url does not hold valid base64.") from exc
    if not data:
        raise _bad(f"The {what} data url is empty.")
    return data


# --------------------------------------------------------------------------- request analysis


@dataclass
class Analysis:
    """What validation learned about an accepted request."""

    spec: ModelLimits
    thinking: bool = False
    audio_out: bool = False
    text_tokens: int = 0
    image_tokens: int = 0
    audio_tokens: int = 0
    video_tokens: int = 0
    last_user_text: str = ""
    last_user_tag: str = ""
    system_text: str = ""
    last_audio: bytes | None = None  # the last user message's audio, as sent
    audio_silent: bool = False  # measured only for transcription requests
    audio_seconds: float = 0.0

    @property
    def prompt_tokens(self) -> int:
        return self.text_tokens + self.image_tokens + self.audio_tokens + self.video_tokens


@dataclass
class _UserMedia:
    images: int = 0
    audio_seconds: list[float] = field(default_factory=list)
    video_seconds: list[float] = field(default_factory=list)
    video_frames: list[int] = field(default_factory=list)

    def tag(self) -> str:
        if self.images:
            return f"[saw {self.images} image{'s' if self.images > 1 else ''}]"
        if self.audio_seconds:
            return f"[saw 1 audio clip ({self.audio_seconds[0]:.1f} s)]"
        if self.video_seconds:
            return f"[saw 1 video ({self.video_seconds[0]:.1f} s)]"
        if self.video_frames:
            return f"[saw 1 video of {self.video_frames[0]} frames]"
        return ""


_PART_MODALITY = {"image_url": "image", "input_audio": "audio", "video_url": "video",
                  "video": "video"}


def _check_image(data: bytes, spec: ModelLimits, what: str = "image") -> int:
    if len(data) > 10 * MB:
        raise _bad(f"The {what} exceeds the 10 MB limit.")
    try:
        with Image.open(io.BytesIO(data)) as img:
            img.load()
            width, height = img.size
    except Exception as exc:
        raise _bad(f"The {what} format is illegal and cannot be opened.") from exc
    if width <= 10 or height <= 10:
        raise _bad(f"The {what} length and width must be greater than 10 pixels, "
                   f"got {width}x{height}.")
    if max(width, height) / min(width, height) > 200:
        raise _bad(f"The {what} aspect ratio must not exceed 200:1, got {width}x{height}.")
    return image_tokens(width, height, spec.image_factor)


def _check_audio(item: Any, spec: ModelLimits, analysis: Analysis) -> float:
    if not isinstance(item, dict):
        raise _bad("input_audio must be an object with a data field.")
    data = decode_data_url(item.get("data"), "audio")
    declared = item.get("format")
    sniffed = sniff_audio(data)
    if declared is not None:
        if not isinstance(declared, str) or declared.lower() not in spec.audio_formats:
            raise _bad(f"Unsupported audio format: {declared!r}; this model takes "
                       f"{sorted(spec.audio_formats)}.")
        declared = "3gp" if declared.lower() == "3gpp" else declared.lower()
        if sniffed != declared:
            raise _bad(f"The audio content ({sniffed or 'unknown'}) does not match the "
                       f"declared format {declared!r}.")
    elif sniffed not in spec.audio_formats:
        raise _bad(f"Unsupported audio format: {sniffed or 'unknown'}.")
    if len(data) > spec.audio_max_bytes:
        raise _bad(f"The audio file exceeds {spec.audio_max_bytes // MB} MB.")
    try:
        probe = probe_media(data)
    except MediaError as exc:
        raise _bad("The audio file could not be decoded.") from exc
    if not probe.has_audio or probe.duration <= 0:
        raise _bad("The audio file could not be decoded.")
    if probe.duration > spec.audio_max_seconds:
        raise _bad(f"The audio is too long: {probe.duration:.1f} s, the maximum is "
                   f"{spec.audio_max_seconds:.0f} s.")
    analysis.audio_tokens += audio_tokens(probe.duration, spec.audio_tokens_per_second)
    analysis.audio_seconds = probe.duration
    analysis.last_audio = data
    return probe.duration


def _check_video_file(item: Any, spec: ModelLimits, analysis: Analysis) -> float:
    url = item.get("url") if isinstance(item, dict) else None
    data = decode_data_url(url, "video")
    if len(data) > spec.video_max_bytes:
        raise _bad(f"The video file exceeds {spec.video_max_bytes // MB} MB.")
    try:
        probe = probe_media(data)
    except MediaError as exc:
        raise _bad("The video file could not be decoded.") from exc
    if probe.width is None or probe.height is None:
        raise _bad("The video file could not be decoded: no video stream.")
    if probe.duration > spec.video_max_seconds:
        raise _bad(f"The video is too long: {probe.duration:.1f} s, the maximum is "
                   f"{spec.video_max_seconds:.0f} s.")
    lo, hi = spec.video_frames
    nframes = min(max(round(probe.duration * 2), lo), hi)
    analysis.video_tokens += video_tokens(probe.width, probe.height, nframes, spec.image_factor)
    if probe.has_audio:
        analysis.audio_tokens += audio_tokens(probe.duration, spec.audio_tokens_per_second)
    return probe.duration


def _check_video_list(frames: Any, spec: ModelLimits, analysis: Analysis) -> int:
    lo, hi = spec.video_frames
    if not isinstance(frames, list) or not lo <= len(frames) <= hi:
        count = len(frames) if isinstance(frames, list) else 0
        raise _bad(f"The video image list must hold {lo} to {hi} images, got {count}.")
    sizes = []
    for url in frames:
        data = decode_data_url(url, "video frame")
        _check_image(data, spec, "video frame")
        with Image.open(io.BytesIO(data)) as img:
            sizes.append(img.size)
    width, height = sizes[0]
    analysis.video_tokens += video_tokens(width, height, len(frames), spec.image_factor)
    return len(frames)


def _text_of(part: dict[str, Any]) -> str:
    text = part.get("text")
    if not isinstance(text, str):
        raise _bad("A text part must have a string text field.")
    return text


def _check_user_part(part: Any, spec: ModelLimits, analysis: Analysis,
                     media: _UserMedia) -> str:
    if not isinstance(part, dict) or "type" not in part:
        raise _bad("Each content part must be an object with a type.")
    kind = part["type"]
    if kind == "text":
        return _text_of(part)
    if kind == "image_url":
        url = part.get("image_url", {})
        url = url.get("url") if isinstance(url, dict) else url
        analysis.image_tokens += _check_image(decode_data_url(url, "image"), spec)
        media.images += 1
    elif kind == "input_audio":
        media.audio_seconds.append(_check_audio(part.get("input_audio"), spec, analysis))
    elif kind == "video_url":
        media.video_seconds.append(_check_video_file(part.get("video_url"), spec, analysis))
    elif kind == "video":
        media.video_frames.append(_check_video_list(part.get("video"), spec, analysis))
    else:
        raise _bad(f"Unsupported content part type: {kind!r}.")
    return ""


def _check_modalities_of(parts: list[Any]) -> None:
    kinds = [p.get("type") for p in parts if isinstance(p, dict)]
    modalities = {_PART_MODALITY[k] for k in kinds if k in _PART_MODALITY}
    if len(modalities) > 1:
        raise _bad("A user message may hold text plus only one other modality "
                   f"(image, audio or video), got {sorted(modalities)}.")
    if kinds.count("input_audio") > 1:
        raise _bad("Only one audio file is allowed per message.")
    if kinds.count("video_url") + kinds.count("video") > 1:
        raise _bad("Only one video is allowed per message.")


def _check_user(message: dict[str, Any], spec: ModelLimits, analysis: Analysis) -> None:
    content = message.get("content")
    media = _UserMedia()
    analysis.last_audio = None
    if isinstance(content, str):
        texts = [content]
    elif isinstance(content, list) and content:
        _check_modalities_of(content)
        texts = [t for p in content if (t := _check_user_part(p, spec, analysis, media))]
    else:
        raise _bad("User content must be a string or a non-empty list of parts.")
    analysis.text_tokens += sum(text_tokens(t) for t in texts)
    analysis.last_user_text = " ".join(texts)
    analysis.last_user_tag = media.tag()


def _check_text_only(message: dict[str, Any], role: str, analysis: Analysis) -> None:
    content = message.get("content")
    if isinstance(content, str):
        analysis.text_tokens += text_tokens(content)
        return
    if not isinstance(content, list) or not content:
        raise _bad(f"{role.capitalize()} content must be a string or a list of text parts.")
    for part in content:
        if not isinstance(part, dict) or part.get("type") != "text":
            raise _bad(f"{role.capitalize()} messages may only hold text.")
        analysis.text_tokens += text_tokens(_text_of(part))


def _check_messages(messages: Any, spec: ModelLimits, analysis: Analysis) -> None:
    if not isinstance(messages, list) or not messages:
        raise _bad("messages must be a non-empty list.")
    for index, message in enumerate(messages):
        role = message.get("role") if isinstance(message, dict) else None
        if role == "user":
            _check_user(message, spec, analysis)
        elif role in ("system", "assistant"):
            if role == "system" and index != 0:
                raise _bad("The system message must be the first message.")
            _check_text_only(message, role, analysis)
            if role == "system":
                analysis.system_text = _plain_text(message)
        else:
            raise _bad(f"Unsupported message role: {role!r}.")
    if not any(m.get("role") == "user" for m in messages):
        raise _bad("messages must contain a user message.")


def _plain_text(message: dict[str, Any]) -> str:
    content = message.get("content")
    if isinstance(content, str):
        return content
    return " ".join(p.get("text", "") for p in content if isinstance(p, dict))


def audio_peak_db(data: bytes) -> float:
    """The loudest sample of ``data``'s sound in dBFS (-inf for digital silence)."""
    with tempfile.TemporaryDirectory(prefix="fake-dashscope-") as tmp:
        path = os.path.join(tmp, "media")
        with open(path, "wb") as handle:
            handle.write(data)
        cmd = [imageio_ffmpeg.get_ffmpeg_exe(), "-hide_banner", "-nostdin", "-i", path,
               "-map", "0:a:0", "-af", "volumedetect", "-f", "null", "-"]
        proc = subprocess.run(cmd, capture_output=True, timeout=60, check=False)
    found = re.search(r"max_volume: (-?[\d.]+|-inf) dB", proc.stderr.decode("utf-8", "replace"))
    return float(found.group(1)) if found else -math.inf


def _asks_to_transcribe(analysis: Analysis) -> bool:
    return analysis.last_audio is not None and re.search(
        r"\btranscribe\b", analysis.last_user_text, re.IGNORECASE) is not None


def _check_output(body: dict[str, Any], spec: ModelLimits, analysis: Analysis) -> None:
    modalities = body.get("modalities", ["text"])
    if (not isinstance(modalities, list) or not all(isinstance(m, str) for m in modalities)
            or set(modalities) not in ({"text"}, {"text", "audio"})):
        raise _bad('modalities must be ["text"] or ["text", "audio"].')
    if len(modalities) != len(set(modalities)):
        raise _bad("modalities must not repeat a value.")
    thinking = body.get("enable_thinking", False)
    if not isinstance(thinking, bool):
        raise _bad("enable_thinking must be a boolean.")
    analysis.thinking = thinking
    analysis.audio_out = "audio" in modalities
    if thinking and not spec.thinking:
        raise _bad("This model does not support enable_thinking.")
    if thinking and (analysis.audio_out or body.get("audio") is not None):
        raise _bad("Thinking mode does not support audio output: use modalities [\"text\"] "
                   "and no audio parameter.")
    if analysis.audio_out:
        _check_voice(body.get("audio"), spec)
    messages = body.get("messages")
    has_system = isinstance(messages, list) and any(
        isinstance(m, dict) and m.get("role") == "system" for m in messages)
    if analysis.audio_out and spec.family == "turbo" and has_system:
        raise _bad("qwen-omni-turbo does not accept a system message with audio output.")


def _check_voice(audio: Any, spec: ModelLimits) -> None:
    if not isinstance(audio, dict):
        raise _bad('Audio output needs audio={"voice": ..., "format": "wav"}.')
    if audio.get("format") != "wav":
        raise _bad(f"audio.format must be \"wav\", got {audio.get('format')!r}.")
    if audio.get("voice") not in spec.voices:
        raise _bad(f"Voice {audio.get('voice')!r} is not supported by this model; "
                   f"choose one of {list(spec.voices)}.")


def _check_max_tokens(body: dict[str, Any], spec: ModelLimits) -> None:
    for key in ("max_tokens", "max_completion_tokens"):
        value = body.get(key)
        if value is None:
            continue
        if not isinstance(value, int) or not 1 <= value <= spec.max_output:
            raise _bad(f"Range of max_tokens should be [1, {spec.max_output}]")


def _check_captioner(body: dict[str, Any]) -> None:
    messages = body.get("messages")
    if not isinstance(messages, list) or len(messages) != 1:
        raise _bad("The captioner takes exactly one user message (single turn).")
    message = messages[0]
    if not isinstance(message, dict) or message.get("role") != "user":
        raise _bad("The captioner takes one user message: no system message.")
    content = message.get("content")
    if (not isinstance(content, list) or len(content) != 1
            or not isinstance(content[0], dict) or content[0].get("type") != "input_audio"):
        raise _bad("The captioner content must be exactly one input_audio part, no text.")
    modalities = body.get("modalities")
    if body.get("audio") is not None or (isinstance(modalities, list) and "audio" in modalities):
        raise _bad("The captioner does not produce audio output.")


def _check_input_length(analysis: Analysis) -> None:
    spec = analysis.spec
    limit = spec.max_input_thinking if analysis.thinking else spec.max_input
    if limit is not None and analysis.prompt_tokens > limit:
        raise _bad(f"Range of input length should be [1, {limit}]")


def analyze(body: dict[str, Any], spec: ModelLimits) -> Analysis:
    """Validate a parsed request body against ``spec``; raise ``Rejection`` on the first fault.

    Blocking (Pillow and ffmpeg): the server runs it in a worker thread.
    """
    if spec.stream_required and body.get("stream") is not True:
        raise _bad(STREAM_ONLY_MESSAGE)
    if spec.family == "captioner":
        _check_captioner(body)
    analysis = Analysis(spec=spec)
    _check_output(body, spec, analysis)
    _check_max_tokens(body, spec)
    _check_messages(body.get("messages"), spec, analysis)
    _check_input_length(analysis)
    if _asks_to_transcribe(analysis) and analysis.last_audio is not None:
        analysis.audio_silent = audio_peak_db(analysis.last_audio) < SILENCE_DB
    return analysis


# --------------------------------------------------------------------------- reply building


_TONE_CACHE: dict[int, bytes] = {}


def tone_pcm(samples: int) -> bytes:
    """``samples`` of a 440 Hz sine, int16 little-endian mono at 24 kHz."""
    if samples not in _TONE_CACHE:
        step = 2 * math.pi * TONE_HZ / SAMPLE_RATE
        amp = TONE_AMPLITUDE * 32767
        pcm = array.array("h", (int(amp * math.sin(step * i)) for i in range(samples)))
        if sys.byteorder == "big":
            pcm.byteswap()
        _TONE_CACHE[samples] = pcm.tobytes()
    return _TONE_CACHE[samples]


def split_words(text: str, per_piece: int = WORDS_PER_DELTA) -> list[str]:
    """Split ``text`` into pieces of a few words, keeping all whitespace."""
    words = re.findall(r"\s*\S+\s*", text) or ([text] if text else [])
    return ["".join(words[i:i + per_piece]) for i in range(0, len(words), per_piece)]


def _marker(instruction: str) -> str | None:
    found = re.search(r'answer with exactly "([^"]+)"', instruction)
    return found.group(1) if found else None


def _translation(analysis: Analysis) -> str | None:
    found = re.search(r"\btranslate\b.*?\binto ([^\W\d_][\w ()'-]*?)[.,:]",
                      analysis.system_text, re.IGNORECASE)
    if found is None:
        return None
    language = found.group(1).strip()
    if language.lower() == "english":
        return _marker(analysis.system_text) or analysis.last_user_text
    return f"[{language}] {analysis.last_user_text}"


def default_reply(analysis: Analysis) -> str:
    """The deterministic reply: a caption for the captioner; a transcript or a translation when
    asked for one; an echo otherwise."""
    if analysis.spec.family == "captioner":
        return (f"The audio contains a steady tone lasting about "
                f"{analysis.audio_seconds:.1f} seconds.")
    if _asks_to_transcribe(analysis):
        marker = _marker(analysis.last_user_text)
        if analysis.audio_silent and marker:
            return marker
        return f"Hello, this is a recording of {analysis.audio_seconds:.1f} seconds."
    translation = _translation(analysis)
    if translation is not None:
        return translation
    body = " ".join(p for p in (analysis.last_user_text, analysis.last_user_tag) if p)
    return f"Echo: {body}"


def reasoning_for(analysis: Analysis) -> str:
    """The deterministic chain of thought streamed in thinking mode."""
    return f"The user wrote: {analysis.last_user_text or 'nothing'}. I will echo it back."


@dataclass
class _Plan:
    model: str
    reply: str
    reasoning: str
    audio_samples: int
    include_usage: bool
    analysis: Analysis
    finish: str = "stop"  # "length" when the reply was cut at the output limit
    chunk_id: str = field(default_factory=lambda: f"chatcmpl-{uuid.uuid4()}")
    created: int = field(default_factory=lambda: int(time.time()))


def _envelope(plan: _Plan, choices: list[dict[str, Any]], usage: Any = None) -> dict[str, Any]:
    return {"choices": choices, "object": "chat.completion.chunk", "usage": usage,
            "created": plan.created, "system_fingerprint": None, "model": plan.model,
            "id": plan.chunk_id}


def _delta(plan: _Plan, delta: dict[str, Any], finish: str | None = None) -> dict[str, Any]:
    choice = {"delta": delta, "finish_reason": finish, "index": 0, "logprobs": None}
    return _envelope(plan, [choice])


def _usage(plan: _Plan) -> dict[str, Any]:
    a = plan.analysis
    completion: dict[str, int] = {"text_tokens": text_tokens(plan.reply)}
    if plan.audio_samples:
        completion["audio_tokens"] = math.ceil(plan.audio_samples / SAMPLE_RATE * 12.5)
    if plan.reasoning:
        completion["reasoning_tokens"] = text_tokens(plan.reasoning)
    prompt = {"text_tokens": a.text_tokens}
    for key in ("image_tokens", "audio_tokens", "video_tokens"):
        if getattr(a, key):
            prompt[key] = getattr(a, key)
    total_out = sum(completion.values())
    return {"prompt_tokens": a.prompt_tokens, "completion_tokens": total_out,
            "total_tokens": a.prompt_tokens + total_out,
            "completion_tokens_details": completion, "prompt_tokens_details": prompt}


def _audio_deltas(plan: _Plan) -> list[dict[str, Any]]:
    pcm = tone_pcm(plan.audio_samples)
    step = int(AUDIO_CHUNK_SECONDS * SAMPLE_RATE) * 2
    audio_id = f"audio_{uuid.uuid4()}"
    return [{"audio": {"data": base64.b64encode(pcm[i:i + step]).decode("ascii"),
                       "expires_at": plan.created, "id": audio_id}}
            for i in range(0, len(pcm), step)]


def output_limit(body: dict[str, Any], spec: ModelLimits) -> int:
    """Tokens the reply may have: the request's ``max_tokens``, else the model's maximum."""
    asked = body.get("max_tokens") or body.get("max_completion_tokens")
    return min(asked, spec.max_output) if isinstance(asked, int) else spec.max_output


def cut_at_output_limit(reply: str, limit: int) -> tuple[str, str]:
    """The reply as the model would end it, and its finish reason (``length`` when cut)."""
    if text_tokens(reply) <= limit:
        return reply, "stop"
    return reply[:(limit - 1) * 3], "length"


def stream_chunks(plan: _Plan) -> Iterator[dict[str, Any]]:
    """Every ``data:`` event of one streamed reply, in order (``[DONE]`` excluded)."""
    if plan.reasoning:
        yield _delta(plan, {"content": None, "role": "assistant", "reasoning_content": ""})
        for piece in split_words(plan.reasoning):
            yield _delta(plan, {"content": None, "reasoning_content": piece})
    else:
        yield _delta(plan, {"role": "assistant", "content": ""})
    texts = [{"content": piece} for piece in split_words(plan.reply)]
    audios = _audio_deltas(plan) if plan.audio_samples else []
    for i in range(max(len(texts), len(audios))):
        if i < len(texts):
            yield _delta(plan, texts[i])
        if i < len(audios):
            yield _delta(plan, audios[i])
    if audios:
        yield _delta(plan, {"audio": {"transcript": plan.reply}})
        yield _delta(plan, {"audio": {"transcript": ""}}, finish=plan.finish)
    elif plan.reasoning:
        yield _delta(plan, {"content": "", "reasoning_content": None}, finish=plan.finish)
    else:
        yield _delta(plan, {"content": ""}, finish=plan.finish)
    if plan.include_usage:
        yield _envelope(plan, [], _usage(plan))


def completion_body(plan: _Plan) -> dict[str, Any]:
    """A non-streamed ``chat.completion`` body (the captioner allows those)."""
    message = {"content": plan.reply, "role": "assistant"}
    choice = {"message": message, "finish_reason": plan.finish, "index": 0, "logprobs": None}
    return {"choices": [choice], "object": "chat.completion", "usage": _usage(plan),
            "created": plan.created, "system_fingerprint": None, "model": plan.model,
            "id": plan.chunk_id}


def _sse(payload: dict[str, Any]) -> bytes:
    return b"data: " + json.dumps(payload, ensure_ascii=False).encode("utf-8") + b"\n\n"


# --------------------------------------------------------------------------- the server


class FakeDashScope:
    """A real local HTTP server speaking DashScope's OpenAI-compatible chat API."""

    def __init__(self, api_key: str = "sk-test", token_delay: float = 0.0,
                 reply_delay: float = 0.0) -> None:
        self.api_key = api_key
        self.token_delay = token_delay
        self.reply_delay = reply_delay  # the model's time to first token, on every stream
        self._default_reply_delay = reply_delay
        self._default_token_delay = token_delay
        self.reply_text: str | None = None
        self.max_body_bytes = MAX_BODY_BYTES
        self.requests: list[dict[str, Any]] = []
        self.accepted: list[dict[str, Any]] = []
        self.rejections: list[tuple[int, dict[str, Any]]] = []
        self._faults: list[Fault] = []
        self._lock = threading.Lock()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._runner: web.AppRunner | None = None
        self._port: int | None = None
        self._startup_error: BaseException | None = None

    # ---- lifecycle

    @property
    def base_url(self) -> str:
        if self._port is None:
            raise RuntimeError("FakeDashScope is not started")
        return f"http://127.0.0.1:{self._port}{API_PREFIX}"

    def start(self) -> None:
        """Start the server thread and wait until it listens."""
        if self._thread is not None:
            return
        ready = threading.Event()
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._run, args=(ready,), daemon=True,
                                        name="fake-dashscope")
        self._thread.start()
        if not ready.wait(15) or self._startup_error is not None:
            self.stop()
            raise RuntimeError("FakeDashScope failed to start") from self._startup_error

    def stop(self) -> None:
        """Stop the server and its thread."""
        loop, thread = self._loop, self._thread
        if loop is None or thread is None:
            return
        if loop.is_running():
            with contextlib.suppress(Exception):
                asyncio.run_coroutine_threadsafe(self._shutdown(), loop).result(15)
            loop.call_soon_threadsafe(loop.stop)
        thread.join(15)
        self._loop = self._thread = None
        self._port = None

    async def _shutdown(self) -> None:
        """Close the listener, then cancel handlers still running (e.g. a delayed reply)."""
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None
        current = asyncio.current_task()
        pending = [task for task in asyncio.all_tasks() if task is not current]
        for task in pending:
            task.cancel()
        await asyncio.gather(*pending, return_exceptions=True)

    def __enter__(self) -> FakeDashScope:
        self.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def _run(self, ready: threading.Event) -> None:
        loop = self._loop
        assert loop is not None
        asyncio.set_event_loop(loop)
        try:
            loop.run_until_complete(self._serve())
        except BaseException as exc:
            self._startup_error = exc
            ready.set()
            loop.close()
            return
        ready.set()
        try:
            loop.run_forever()
        finally:
            if self._runner is not None:
                loop.run_until_complete(self._runner.cleanup())
            loop.run_until_complete(loop.shutdown_asyncgens())
            loop.run_until_complete(loop.shutdown_default_executor())
            loop.close()

    async def _serve(self) -> None:
        app = web.Application(client_max_size=1024 * MB)
        app.router.add_post(f"{API_PREFIX}/chat/completions", self._handle)
        self._runner = web.AppRunner(app, access_log=None, shutdown_timeout=1.0)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self._port = self._runner.addresses[0][1]

    # ---- test controls

    def reset(self) -> None:
        """Clear recorded requests, faults and overrides (reply text, delays, limits)."""
        with self._lock:
            self.requests.clear()
            self.accepted.clear()
            self.rejections.clear()
            self._faults.clear()
        self.reply_text = None
        self.token_delay = self._default_token_delay
        self.reply_delay = self._default_reply_delay
        self.max_body_bytes = MAX_BODY_BYTES

    def add_fault(self, fault: Fault) -> None:
        """Queue a fault; faults apply in the order they were added."""
        with self._lock:
            self._faults.append(fault)

    @staticmethod
    def expected_audio_seconds(text: str) -> float:
        """Length of the speech streamed for ``text`` (whole samples at 24 kHz)."""
        seconds = min(len(text) * AUDIO_SECONDS_PER_CHAR, MAX_AUDIO_SECONDS)
        return round(seconds * SAMPLE_RATE) / SAMPLE_RATE

    def _take_fault(self, *, status: bool, model: object = None) -> Fault | None:
        with self._lock:
            for fault in self._faults:
                if fault.model is not None and fault.model != model:
                    continue
                if (fault.status is not None) == status and fault.times != 0:
                    if fault.times > 0:
                        fault.times -= 1
                        if fault.times == 0:
                            self._faults.remove(fault)
                    return fault
        return None

    # ---- request handling

    def _reject(self, exc: Rejection) -> web.Response:
        body = error_body(exc.status, exc.code, exc.message)
        with self._lock:
            self.rejections.append((exc.status, body))
        return web.json_response(body, status=exc.status,
                                 headers={"x-request-id": body["request_id"]})

    def _record(self, raw: bytes) -> dict[str, Any] | None:
        try:
            body = json.loads(raw)
        except (ValueError, UnicodeDecodeError):
            body = None
        record = body if isinstance(body, dict) else {"_invalid_json": raw[:200].decode(
            "utf-8", "replace")}
        with self._lock:
            self.requests.append(record)
        return body if isinstance(body, dict) else None

    def _check_auth(self, request: web.Request) -> None:
        if request.headers.get("Authorization", "") != f"Bearer {self.api_key}":
            raise Rejection(401, "InvalidApiKey", "Invalid API-key provided.")

    async def _admit(self, request: web.Request, raw: bytes,
                     body: dict[str, Any] | None) -> Analysis:
        self._check_auth(request)
        if len(raw) > self.max_body_bytes:
            raise _bad(f"max bytes to request body : {self.max_body_bytes}")
        fault = self._take_fault(status=True, model=(body or {}).get("model"))
        if fault is not None:
            await asyncio.sleep(fault.first_token_delay)
            default_code, default_message = DEFAULT_FAULT_CODES.get(
                fault.status or 500, ("InternalError", "Injected fault."))
            raise Rejection(fault.status or 500, fault.code or default_code,
                            fault.message or default_message)
        if body is None:
            raise _bad("The request body is not a valid JSON object.")
        model = body.get("model")
        spec = MODELS.get(model) if isinstance(model, str) else None
        if spec is None:
            raise Rejection(404, "ModelNotFound",
                            f"The model `{model}` does not exist or you do not have access to it.")
        try:
            return await asyncio.to_thread(analyze, body, spec)
        except Rejection:
            raise
        except Exception as exc:  # a body shape the checks did not foresee: make it loud
            raise Rejection(500, "InternalError",
                            f"fake_dashscope could not validate the request: {exc!r}") from exc

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        raw = await request.read()
        body = self._record(raw)
        try:
            analysis = await self._admit(request, raw, body)
        except Rejection as exc:
            return self._reject(exc)
        assert body is not None
        with self._lock:
            self.accepted.append(body)
        plan = self._plan(body, analysis)
        fault = self._take_fault(status=False, model=body.get("model"))
        if body.get("stream") is True:
            return await self._stream(request, plan, fault)
        return await self._complete(request, plan, fault)

    def _plan(self, body: dict[str, Any], analysis: Analysis) -> _Plan:
        reply = self.reply_text if self.reply_text is not None else default_reply(analysis)
        reply, finish = cut_at_output_limit(reply, output_limit(body, MODELS[body["model"]]))
        seconds = self.expected_audio_seconds(reply) if analysis.audio_out else 0.0
        options = body.get("stream_options")
        include_usage = isinstance(options, dict) and options.get("include_usage") is True
        return _Plan(model=body["model"], reply=reply,
                     reasoning=reasoning_for(analysis) if analysis.thinking else "",
                     audio_samples=round(seconds * SAMPLE_RATE),
                     include_usage=include_usage, analysis=analysis, finish=finish)

    @staticmethod
    def _abort(request: web.Request) -> None:
        transport = request.transport
        if transport is not None:
            transport.abort()

    async def _complete(self, request: web.Request, plan: _Plan,
                        fault: Fault | None) -> web.StreamResponse:
        if fault is not None:
            await asyncio.sleep(fault.first_token_delay)
            if fault.cut_after_chunks is not None:
                self._abort(request)
                return web.Response(status=500)
            if fault.error_event:
                return self._reject(Rejection(400, fault.code or "DataInspectionFailed",
                                              fault.message or INSPECTION_MESSAGE))
        return web.json_response(completion_body(plan))

    async def _stream(self, request: web.Request, plan: _Plan,
                      fault: Fault | None) -> web.StreamResponse:
        resp = web.StreamResponse(headers={
            "Content-Type": "text/event-stream;charset=UTF-8",
            "Cache-Control": "no-cache",
            "x-request-id": str(uuid.uuid4()),
        })
        await resp.prepare(request)
        with contextlib.suppress(ConnectionError):
            await self._write_events(request, resp, plan, fault)
        return resp

    async def _write_events(self, request: web.Request, resp: web.StreamResponse,
                            plan: _Plan, fault: Fault | None) -> None:
        delay = fault.first_token_delay if fault is not None else 0.0
        if delay or self.reply_delay:
            await asyncio.sleep(delay or self.reply_delay)
        for index, chunk in enumerate(stream_chunks(plan)):
            if fault is not None and fault.cut_after_chunks is not None \
                    and index >= fault.cut_after_chunks:
                self._abort(request)
                return
            if fault is not None and fault.error_event and index == 1:
                error = error_body(400, fault.code or "DataInspectionFailed",
                                   fault.message or INSPECTION_MESSAGE)
                await resp.write(_sse(error))
                await resp.write_eof()
                return
            if fault is not None and fault.garbage_at_chunk == index:
                await resp.write(b'data: {"id": "chatcmpl-1", "choices": [{"delta": {\n\n')
                continue
            if fault is not None and fault.trickle_every and index == 1:
                while True:  # until the client gives up and disconnects
                    await resp.write(_sse(chunk))
                    await asyncio.sleep(fault.trickle_every)
            if index and self.token_delay:
                await asyncio.sleep(self.token_delay)
            await resp.write(_sse(chunk))
        await resp.write(b"data: [DONE]\n\n")
        await resp.write_eof()

