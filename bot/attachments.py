"""Reading local files the API accepts as they are, as message parts.

This is the pass-through path: the file is inlined unchanged after its type and size are
checked. Conversion of everything else is the media pipeline's job.
"""

from __future__ import annotations

import stat
from dataclasses import dataclass
from pathlib import Path

import aiofiles
import aiofiles.os

from bot.catalog import MAX_DATA_URI_BYTES
from bot.errors import MediaError
from bot.parts import Part, audio_part, image_part, video_part
from bot.store.base import MediaRef

IMAGE_TYPES = {
    ".png": "image/png",
    ".jpg": "image/jpeg",
    ".jpeg": "image/jpeg",
    ".webp": "image/webp",
    ".bmp": "image/bmp",
    ".tif": "image/tiff",
    ".tiff": "image/tiff",
    ".heic": "image/heic",
}
AUDIO_TYPES = {".mp3": "mp3", ".wav": "wav"}
CAPTION_AUDIO_TYPES = {
    ".mp3": "mp3", ".wav": "wav", ".amr": "amr", ".3gp": "3gp", ".3gpp": "3gpp", ".aac": "aac",
}
VIDEO_TYPES = {".mp4", ".mov", ".webm", ".mkv", ".avi"}

#: Largest raw file whose base64 form fits one data URL.
MAX_RAW_BYTES = MAX_DATA_URI_BYTES * 3 // 4 - 64


@dataclass(frozen=True)
class Attachment:
    """A file ready to send: its message part and what to remember about it."""

    part: Part
    ref: MediaRef


def supported_extensions() -> list[str]:
    """Every file extension accepted as is."""
    return sorted({*IMAGE_TYPES, *AUDIO_TYPES, *VIDEO_TYPES})


async def read_attachment(path: Path) -> Attachment:
    """Read ``path`` as an image, audio or video part; MediaError if it cannot be sent."""
    suffix = path.suffix.lower()
    if suffix not in {*IMAGE_TYPES, *AUDIO_TYPES, *VIDEO_TYPES}:
        raise MediaError(
            f"{path.name}: unsupported file type (supported: {', '.join(supported_extensions())})"
        )
    data = await _read_checked(path)
    if suffix in IMAGE_TYPES:
        return Attachment(image_part(data, IMAGE_TYPES[suffix]), _ref("image", path, data))
    if suffix in AUDIO_TYPES:
        fmt = AUDIO_TYPES[suffix]
        return Attachment(audio_part(data, fmt), _ref("audio", path, data, fmt))
    return Attachment(video_part(data), _ref("video", path, data, suffix.lstrip(".")))


async def read_caption_audio(path: Path) -> Attachment:
    """Read ``path`` as audio the captioner accepts as is; MediaError otherwise."""
    fmt = CAPTION_AUDIO_TYPES.get(path.suffix.lower())
    if fmt is None:
        raise MediaError(
            f"{path.name}: the captioner takes {', '.join(sorted(CAPTION_AUDIO_TYPES))} files"
        )
    data = await _read_checked(path)
    return Attachment(audio_part(data, fmt), _ref("audio", path, data, fmt))


async def _read_checked(path: Path) -> bytes:
    try:
        info = await aiofiles.os.stat(path)
    except FileNotFoundError:
        raise MediaError(f"{path}: no such file") from None
    except OSError as error:
        raise MediaError(f"{path}: cannot read ({error.strerror})") from None
    if not stat.S_ISREG(info.st_mode):
        raise MediaError(f"{path}: not a file")
    size = info.st_size
    if size == 0:
        raise MediaError(f"{path.name}: the file is empty")
    if size > MAX_RAW_BYTES:
        raise MediaError(
            f"{path.name}: {size / 1e6:.1f} MB is over the {MAX_RAW_BYTES / 1e6:.1f} MB the "
            "service takes inline"
        )
    async with aiofiles.open(path, "rb") as handle:
        return await handle.read()


def _ref(kind: str, path: Path, data: bytes, fmt: str = "") -> MediaRef:
    return MediaRef(kind=kind, name=path.name, format=fmt or path.suffix.lstrip("."),
                    size_bytes=len(data))
