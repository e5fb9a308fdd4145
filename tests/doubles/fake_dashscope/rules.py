"""The API rules the fake DashScope enforces, from the vendor pages, with its own small table of
limits (it deliberately imports nothing from the ``bot`` package): model names, streaming-only
Omni models, one non-text modality per user message, text-only assistant history, output
modalities and voices, thinking mode, data URLs, real media decoding (through ``media.py``), and
a cheap estimate of prompt tokens against each model's maximum input. ``analyze`` checks one
request body and raises ``Rejection`` on the first fault; ``error_body`` is DashScope's error
shape."""

from __future__ import annotations

import base64
import binascii
import math
import re
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from typing import Any

from tests.doubles.fake_dashscope.media import (
    MediaError,
    audio_peak_db,
    image_size,
    probe_media,
    sniff_audio,
)

API_PREFIX = "/compatible-mode/v1"
MAX_BODY_BYTES = 6_291_456
MAX_DATA_URI_BYTES = 10_485_760
MB = 1024 * 1024

FLASH_VOICES = (
    "Cherry", "Ethan", "Nofish", "Jennifer", "Ryan", "Katerina", "Elias", "Jada", "Dylan",
    "Sunny", "Li", "Marcus", "Roy", "Peter", "Rocky", "Kiki", "Eric",
)
TURBO_VOICES = ("Cherry", "Serena", "Ethan", "Chelsie")
SEVEN_B_VOICES = ("Ethan", "Chelsie")
CHAT_AUDIO_FORMATS = frozenset({"mp3", "wav"})
CAPTIONER_AUDIO_FORMATS = frozenset({"amr", "wav", "3gp", "3gpp", "aac", "mp3"})

SILENCE_DB = -50.0  # a transcription request's audio quieter than this holds no speech

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

@contextmanager
def models_added(added: dict[str, ModelLimits]) -> Iterator[None]:
    """Serve these model names too for the block, as the service does once it ships a new
    model (the bot learns of it from a models file); other unknown names are still refused."""
    taken = sorted(set(added) & set(MODELS))
    if taken:
        raise ValueError(f"already served: {', '.join(taken)}")
    MODELS.update(added)
    try:
        yield
    finally:
        for name in added:
            MODELS.pop(name, None)


class Rejection(Exception):
    """A request the fake refuses: HTTP status, DashScope error code and message."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message


def _bad(message: str) -> Rejection:
    return Rejection(400, "invalid_parameter_error", message)

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
    h_bar, w_bar = _within(height, width, h_bar, w_bar, factor, min_pixels, max_pixels)
    return int((h_bar * w_bar) / (factor * factor)) + 2


def _within(height: int, width: int, h_bar: int, w_bar: int, factor: int, min_pixels: float,
            max_pixels: float) -> tuple[int, int]:
    """``smart_resize``'s last step: the rounded size scaled into [min_pixels, max_pixels]."""
    if h_bar * w_bar > max_pixels:
        beta = math.sqrt((height * width) / max_pixels)
        return (math.floor(height / beta / factor) * factor,
                math.floor(width / beta / factor) * factor)
    if h_bar * w_bar < min_pixels:
        beta = math.sqrt(min_pixels / (height * width))
        return (math.ceil(height * beta / factor) * factor,
                math.ceil(width * beta / factor) * factor)
    return h_bar, w_bar


def video_tokens(width: int, height: int, nframes: int, factor: int) -> int:
    """The vendor's ``smart_resize`` per frame, two frames per temporal token, plus two."""
    nframes = max(2, nframes - nframes % 2)
    min_pixels = 128 * factor * factor
    max_pixels = max(min(768 * factor * factor, 16384 * factor * factor / nframes * 2),
                     int(min_pixels * 1.05))
    h_bar = max(factor, round(height / factor) * factor)
    w_bar = max(factor, round(width / factor) * factor)
    h_bar, w_bar = _within(height, width, h_bar, w_bar, factor, min_pixels, max_pixels)
    return math.ceil(nframes / 2) * (h_bar // factor) * (w_bar // factor) + 2


def audio_tokens(seconds: float, per_second: float) -> int:
    """Audio tokens: a fixed rate per second, under one second counts as one."""
    return math.ceil(max(seconds, 1.0) * per_second)

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
        width, height = image_size(data)
    except MediaError as exc:
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
        sizes.append(image_size(data, decode=False))
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
