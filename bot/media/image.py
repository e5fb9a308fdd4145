"""Images made ready for Qwen-Omni: safe to decode, upright, stripped, sized and within budget.

A still image becomes one JPEG (or a PNG when it really has transparency, or an opaque PNG
source that stays small) at the largest size the model actually reads, padded where the API's
shape rules demand it. An animated GIF, WebP or PNG becomes a list of JPEG frames sampled at
the model's video rate, sent as a video. All decoding happens in one worker thread per image,
behind a pixel-count guard checked before any pixel is decoded.
"""

from __future__ import annotations

import bisect
import io
import itertools
import math
import threading
import warnings
from dataclasses import dataclass
from pathlib import Path

from PIL import ExifTags, Image, ImageCms, ImageOps

from bot.catalog import MAX_DATA_URI_BYTES, ImageListLimits, ImageRules, ModelSpec, VideoLimits
from bot.errors import MediaError
from bot.media.ffmpeg import run_in_thread
from bot.media.tokens import (
    image_list_tokens,
    image_size_for_tokens,
    image_tokens,
    video_frame_size,
)
from bot.media.types import MediaTarget, PreparedMedia, PreparedPart
from bot.parts import image_list_part, image_part

#: Largest source image (width × height) Omnicord agrees to decode.
MAX_SOURCE_PIXELS = 80_000_000
#: Largest animation (width × height × frames) Omnicord agrees to decode.
MAX_ANIMATION_PIXELS = 400_000_000
#: JPEG qualities tried in turn until the result fits.
JPEG_QUALITIES = (90, 80, 70, 60, 50)
#: An opaque PNG source stays PNG only up to this size; past it, JPEG is far cheaper.
OPAQUE_PNG_MAX_BYTES = 1024 * 1024
#: Short animations still get this many frames (when they have them) so motion shows.
SHORT_ANIMATION_FRAMES = 4
#: Frame length assumed when a GIF gives none or an implausibly short one (as browsers do).
DEFAULT_FRAME_MS = 100.0
#: Seconds one image may take to process.
IMAGE_TIMEOUT = 60.0

DAMAGED = "the image is damaged or in a format Omnicord cannot read"

_PIL_FORMATS = {
    "png": ("PNG",), "jpeg": ("JPEG",), "gif": ("GIF",), "bmp": ("BMP",), "tiff": ("TIFF",),
    "webp": ("WEBP",), "heif": ("HEIF", "AVIF"),  # AVIF shares HEIF's container
}
_LABELS = {
    "png": "PNG", "jpeg": "JPEG", "gif": "GIF", "bmp": "BMP", "tiff": "TIFF", "webp": "WebP",
    "heif": "HEIC",
}
_ANIMATED_FORMATS = frozenset({"gif", "webp", "png"})
_HIGH_DEPTH_MODES = frozenset({"I", "F", "I;16", "I;16B", "I;16L", "I;16N"})
_WHITE = (255, 255, 255)
_MIME = {"jpeg": "image/jpeg", "png": "image/png"}

# Image.open runs under this lock: warnings.catch_warnings swaps process-wide state, and two
# threads nesting it could leave the "error" filter installed for good.
_OPEN_LOCK = threading.Lock()
_heif_registered = False


@dataclass(frozen=True)
class _Encoded:
    """A still image encoded for sending."""

    data: bytes
    format: str  # "jpeg" or "png"
    width: int
    height: int
    lowered: bool  # quality or size was given up to fit


async def prepare_image(path: Path, *, name: str, fmt: str, target: MediaTarget) -> PreparedMedia:
    """Convert the image at ``path`` (sniffed as ``fmt``) into parts ``target.model`` accepts.

    Raises MediaError with a member-facing sentence when the image cannot be used.
    """
    return await run_in_thread(_prepare_sync, path, name, fmt, target, timeout=IMAGE_TIMEOUT)


def _prepare_sync(path: Path, name: str, fmt: str, target: MediaTarget) -> PreparedMedia:
    try:
        return _prepare_checked(path, name, fmt, target)
    except MediaError:
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning, MemoryError):
        raise MediaError("the image is too large to process") from None
    except Exception:
        # Decoders raise many exception types on hostile input; none is worth showing.
        raise MediaError(DAMAGED) from None


def _prepare_checked(path: Path, name: str, fmt: str, target: MediaTarget) -> PreparedMedia:
    rules = target.model.image
    if rules is None:
        raise MediaError(f"{target.model.name} does not take images")
    if fmt not in _PIL_FORMATS:
        raise MediaError(DAMAGED)
    if fmt == "heif":
        _enable_heif()
    if path.stat().st_size == 0:
        raise MediaError("the image file is empty")
    with _open(path, fmt) as im:
        _check_pixels(im)
        model = target.model
        if _is_animated(im, fmt) and model.image_list and model.video:
            return _animation(im, name, fmt, target, rules)
        return _still(im, name, fmt, target, rules)


def _enable_heif() -> None:
    global _heif_registered
    try:
        import pillow_heif
    except ImportError:
        raise MediaError("HEIC images need the pillow-heif package") from None
    with _OPEN_LOCK:
        if not _heif_registered:
            pillow_heif.register_heif_opener()
            _heif_registered = True


def _open(path: Path, fmt: str) -> Image.Image:
    """Open lazily (header only), refusing decompression bombs rather than warning about them."""
    with _OPEN_LOCK, warnings.catch_warnings():
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        return Image.open(path, formats=list(_PIL_FORMATS[fmt]))


def _check_pixels(im: Image.Image) -> None:
    width, height = im.size
    if width < 1 or height < 1:
        raise MediaError(DAMAGED)
    if width * height > MAX_SOURCE_PIXELS:
        megapixels = width * height / 1_000_000
        raise MediaError(f"the image is too large to process ({megapixels:.0f} megapixels)")


def _is_animated(im: Image.Image, fmt: str) -> bool:
    return fmt in _ANIMATED_FORMATS and getattr(im, "n_frames", 1) > 1


# --------------------------------------------------------------------------- metadata


def _had_location(im: Image.Image) -> bool:
    """Whether the source carried GPS data (EXIF GPS block or XMP GPS fields)."""
    try:
        if im.getexif().get_ifd(ExifTags.IFD.GPSInfo):
            return True
    except Exception:  # unreadable EXIF is dropped anyway
        pass
    for value in im.info.values():
        text = value.decode("latin-1") if isinstance(value, bytes) else value
        if isinstance(text, str) and "GPSLatitude" in text:
            return True
    return False


def _oriented_size(im: Image.Image) -> tuple[int, int]:
    """The size as displayed, once the EXIF orientation is applied."""
    try:
        orientation = im.getexif().get(ExifTags.Base.Orientation, 1)
    except Exception:
        orientation = 1
    width, height = im.size
    return (height, width) if orientation in (5, 6, 7, 8) else (width, height)


def _upright(im: Image.Image) -> Image.Image:
    try:
        return ImageOps.exif_transpose(im)
    except Exception:  # broken EXIF must not cost the member the picture
        return im.copy()


def _source_notices(im: Image.Image, fmt: str) -> list[str]:
    notices = []
    if _had_location(im):
        notices.append("location data removed")
    pages = getattr(im, "n_frames", 1) if fmt == "tiff" else 1
    if pages > 1:
        notices.append(f"only the first of {pages} pages is shown")
    return notices


def _bare(picture: Image.Image) -> Image.Image:
    """The same pixels with no metadata at all (EXIF, XMP, ICC, text chunks, comments)."""
    bare = Image.new(picture.mode, picture.size)
    bare.paste(picture)
    return bare


# --------------------------------------------------------------------------- pixels


_SRGB = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB"))


def _to_srgb(im: Image.Image) -> Image.Image:
    """Apply an embedded colour profile, since the profile itself is about to be dropped."""
    icc = im.info.get("icc_profile")
    if not icc or im.mode not in ("RGB", "RGBA", "CMYK"):
        return im
    try:
        source = ImageCms.ImageCmsProfile(io.BytesIO(icc))
        mode = "RGBA" if im.mode == "RGBA" else "RGB"
        converted = ImageCms.profileToProfile(im, source, _SRGB, outputMode=mode)
    except (ImageCms.PyCMSError, OSError, ValueError, TypeError):
        return im
    return converted if converted is not None else im


def _to_8bit(im: Image.Image) -> Image.Image:
    """16-bit and float greyscale to 8-bit, scaled rather than clipped."""
    if im.mode.startswith("I;16"):
        scale, offset = 1 / 256, 0.0
    else:
        low, high = im.getextrema()
        scale = 255 / (high - low) if high > low else 1.0
        offset = -low * scale
    return im.convert("F").point(lambda v: v * scale + offset).convert("L")


def _normalise(im: Image.Image) -> Image.Image:
    """RGB, or RGBA when some pixel is actually transparent."""
    if im.mode in _HIGH_DEPTH_MODES:
        im = _to_8bit(im)
    im = _to_srgb(im)
    if im.has_transparency_data:
        rgba = im.convert("RGBA")
        if rgba.getchannel("A").getextrema()[0] < 255:
            return rgba
        return rgba.convert("RGB")
    return im.convert("RGB")


def _ratio_padded(width: int, height: int, rules: ImageRules) -> tuple[int, int]:
    """The size with the short side grown just enough for the 200:1 rule."""
    ratio = rules.max_aspect_ratio
    if width > height * ratio:
        return width, math.ceil(width / ratio)
    if height > width * ratio:
        return math.ceil(height / ratio), height
    return width, height


def _padded_size(width: int, height: int, rules: ImageRules) -> tuple[int, int]:
    """The canvas that meets the shape rules: at most 200:1, both sides over 10 px."""
    width, height = _ratio_padded(width, height, rules)
    if width < rules.min_side_px:
        width = rules.block_px
    if height < rules.min_side_px:
        height = rules.block_px
    return width, height


def _pad(picture: Image.Image, size: tuple[int, int]) -> Image.Image:
    """Centre ``picture`` on a white (or transparent) canvas of ``size``; never stretch."""
    if picture.size == size:
        return picture
    fill = (*_WHITE, 0) if picture.mode == "RGBA" else _WHITE
    canvas = Image.new(picture.mode, size, fill)
    canvas.paste(picture, ((size[0] - picture.width) // 2, (size[1] - picture.height) // 2))
    return canvas


def _resize(picture: Image.Image, size: tuple[int, int]) -> Image.Image:
    return picture.resize(size, Image.Resampling.LANCZOS, reducing_gap=3.0)


def _model_size(size: tuple[int, int], rules: ImageRules) -> tuple[int, int] | None:
    """The size the model would shrink ``size`` to, or None when it reads it as it is."""
    if size[0] * size[1] <= rules.max_pixels:
        return None
    return image_size_for_tokens(size[0], size[1], rules)


def _shaped(im: Image.Image, rules: ImageRules) -> Image.Image:
    """Upright, normalised, padded to the shape rules and no bigger than the model reads."""
    original = _oriented_size(im)
    logical = _padded_size(*original, rules)
    goal = _model_size(logical, rules)
    if goal and logical == original and im.format == "JPEG":
        # Let the JPEG decoder scale down by a power of two (never below the goal).
        im.draft(None, image_size_for_tokens(im.width, im.height, rules))
    picture = _pad(_normalise(_upright(im)), logical)
    if goal:
        picture = _resize(picture, goal)
    # Rounding to whole blocks can tip a very long image past 200:1 again.
    return _pad(picture, _padded_size(*picture.size, rules))


# --------------------------------------------------------------------------- encoding


def _b64_size(raw: int, mime: str) -> int:
    """Characters of the data URL for ``raw`` bytes."""
    return len(f"data:{mime};base64,") + 4 * math.ceil(raw / 3)


def _jpeg(picture: Image.Image, quality: int) -> bytes:
    buffer = io.BytesIO()
    _bare(picture).save(buffer, "JPEG", quality=quality, subsampling="4:2:0", optimize=True)
    return buffer.getvalue()


def _png(picture: Image.Image) -> bytes:
    buffer = io.BytesIO()
    _bare(picture).save(buffer, "PNG", compress_level=6)
    return buffer.getvalue()


def _try_encodings(
    picture: Image.Image, fmt: str, rules: ImageRules, limit: int
) -> tuple[bytes, str, int] | None:
    """(data, format, quality) for the best encoding that fits, or None."""

    def fits(data: bytes, kind: str) -> bool:
        return len(data) <= rules.max_bytes and _b64_size(len(data), _MIME[kind]) <= limit

    if picture.mode == "RGBA" or fmt == "png":
        data = _png(picture)
        small = picture.mode == "RGBA" or len(data) <= OPAQUE_PNG_MAX_BYTES
        if small and fits(data, "png"):
            return data, "png", JPEG_QUALITIES[0]
        if picture.mode == "RGBA":
            return None
    for quality in JPEG_QUALITIES:
        data = _jpeg(picture, quality)
        if fits(data, "jpeg"):
            return data, "jpeg", quality
    return None


def _halve(picture: Image.Image, min_side: int, what: str) -> Image.Image:
    size = (picture.width // 2, picture.height // 2)
    if min(size) < min_side:
        raise MediaError(f"the {what} cannot be made small enough to send")
    return _resize(picture, size)


def _encode_still(
    picture: Image.Image, fmt: str, rules: ImageRules, budget: int
) -> _Encoded:
    """Encode within the model's byte limit and the caller's base64 budget, shrinking if need be."""
    limit = min(budget, MAX_DATA_URI_BYTES)
    halved = False
    while True:
        found = _try_encodings(picture, fmt, rules, limit)
        if found is not None:
            data, kind, quality = found
            lowered = halved or quality < JPEG_QUALITIES[0]
            return _Encoded(data, kind, picture.width, picture.height, lowered)
        picture = _halve(picture, rules.min_side_px, "image")
        halved = True


# --------------------------------------------------------------------------- stills


def _still(
    im: Image.Image, name: str, fmt: str, target: MediaTarget, rules: ImageRules
) -> PreparedMedia:
    source_notices = _source_notices(im, fmt)
    original = _oriented_size(im)
    picture = _shaped(im, rules)
    encoded = _encode_still(picture, fmt, rules, target.budget_bytes)
    label = "AVIF" if im.format == "AVIF" else _LABELS[fmt]
    notices = _still_notices(fmt, label, original, rules, encoded) + source_notices
    part = PreparedPart(
        part=image_part(encoded.data, _MIME[encoded.format]),
        kind="image",
        format=encoded.format,
        tokens=image_tokens(encoded.width, encoded.height, rules),
        width=encoded.width,
        height=encoded.height,
    )
    return PreparedMedia(
        name=name, kind="image", parts=(part,), notices=tuple(notices), source_format=fmt,
        details={"source_width": original[0], "source_height": original[1]},
    )


def _still_notices(
    fmt: str, label: str, original: tuple[int, int], rules: ImageRules, encoded: _Encoded
) -> list[str]:
    notices = []
    if encoded.format != fmt:
        notices.append(f"converted from {label}")
    width, height = original
    reshaped = _ratio_padded(width, height, rules)
    padded = _padded_size(width, height, rules)
    if padded == reshaped != original:
        notices.append(f"padded to a {rules.max_aspect_ratio:.0f}:1 shape")
    elif padded != original:
        notices.append(f"padded from {width}×{height}")
    if encoded.width < width or encoded.height < height:
        notices.append(f"downscaled from {width}×{height} to {encoded.width}×{encoded.height}")
    if encoded.lowered:
        notices.append("compressed to fit the size limit")
    return notices


# --------------------------------------------------------------------------- animations


def _frame_ms(value: object) -> float:
    duration = float(value) if isinstance(value, int | float) else 0.0
    return duration if duration >= 20 else DEFAULT_FRAME_MS


def _durations(im: Image.Image, count: int) -> list[float]:
    """Milliseconds each frame shows (WebP reports a frame's duration only once it is loaded)."""
    durations = []
    for index in range(count):
        im.seek(index)
        _check_pixels(im)  # a GIF frame may claim a larger canvas than the file's header
        im.load()
        durations.append(_frame_ms(im.info.get("duration")))
    return durations


def _frame_count(
    n_frames: int, seconds: float, limits: ImageListLimits, video: VideoLimits
) -> int:
    """Frames to send: the model's video rate, within the list limits (repeats if too few)."""
    wanted = max(math.ceil(seconds * video.fps), SHORT_ANIMATION_FRAMES)
    return max(limits.min_images, min(wanted, n_frames, limits.max_images))


def _sample(durations: list[float], count: int) -> list[int]:
    """Indices of the frames on screen at ``count`` evenly spaced moments."""
    starts = list(itertools.accumulate(durations, initial=0.0))[:-1]
    total = sum(durations)
    return [bisect.bisect_right(starts, (k + 0.5) * total / count) - 1 for k in range(count)]


def _flatten(frame: Image.Image) -> Image.Image:
    """A frame composited onto white, as RGB."""
    rgba = frame.convert("RGBA")
    canvas = Image.new("RGB", rgba.size, _WHITE)
    canvas.paste(rgba, (0, 0), rgba)
    return canvas


def _frame_size(
    size: tuple[int, int], count: int, video: VideoLimits, rules: ImageRules
) -> tuple[int, int]:
    """The model's frame size when it is smaller than ``size``; never upscale."""
    width, height = video_frame_size(size[0], size[1], count, video)
    if width * height < size[0] * size[1] and min(width, height) >= rules.min_side_px:
        return width, height
    return size


def _decode_frames(
    im: Image.Image, indices: list[int], video: VideoLimits, rules: ImageRules
) -> list[Image.Image]:
    canvas = _padded_size(im.width, im.height, rules)
    size = _frame_size(canvas, len(indices), video, rules)
    frames: dict[int, Image.Image] = {}
    for index in sorted(set(indices)):
        im.seek(index)
        frame = _pad(_flatten(im), canvas)
        frames[index] = _resize(frame, size) if frame.size != size else frame
    return [frames[index] for index in indices]


def _list_size(encoded: list[bytes]) -> int:
    return sum(_b64_size(len(data), "image/jpeg") for data in encoded)


def _fewer(frames: list[Image.Image], minimum: int, share: float) -> list[Image.Image] | None:
    """Evenly chosen frames, about ``share`` of them; None when already at the minimum."""
    if len(frames) <= minimum:
        return None
    count = max(minimum, min(len(frames) - 1, math.floor(len(frames) * share)))
    return [frames[(2 * k + 1) * len(frames) // (2 * count)] for k in range(count)]


def _fit_frames(
    frames: list[Image.Image], minimum: int, budget: int, rules: ImageRules
) -> tuple[list[Image.Image], list[bytes], bool]:
    """Encode within ``budget``: lower quality first, then fewer frames, then smaller ones."""
    lowered = False
    while True:
        for quality in JPEG_QUALITIES:
            encoded = [_jpeg(frame, quality) for frame in frames]
            if _list_size(encoded) <= budget:
                return frames, encoded, lowered or quality < JPEG_QUALITIES[0]
        lowered = True
        fewer = _fewer(frames, minimum, budget / _list_size(encoded))
        if fewer is None:
            frames = [_halve(frame, rules.min_side_px, "animation") for frame in frames]
        else:
            frames = fewer


def _animation(
    im: Image.Image, name: str, fmt: str, target: MediaTarget, rules: ImageRules
) -> PreparedMedia:
    model = target.model
    limits, video = _list_limits(model)
    n_frames = im.n_frames
    if n_frames * im.width * im.height > MAX_ANIMATION_PIXELS:
        raise MediaError(
            f"the animation is too large to process ({n_frames} frames of {im.width}×{im.height})"
        )
    notices = _source_notices(im, fmt)
    durations = _durations(im, n_frames)
    count = _frame_count(n_frames, sum(durations) / 1000, limits, video)
    frames = _decode_frames(im, _sample(durations, count), video, rules)
    frames, encoded, lowered = _fit_frames(frames, limits.min_images, target.budget_bytes, rules)
    width, height = frames[0].size
    notices.insert(0, f"animated {_LABELS[fmt]} shown as {len(frames)} frames")
    if lowered:
        notices.append("compressed to fit the size limit")
    part = PreparedPart(
        part=image_list_part(encoded, "image/jpeg"),
        kind="video",
        format="frames",
        tokens=image_list_tokens(width, height, len(frames), video),
        width=width,
        height=height,
        frames=len(frames),
    )
    return PreparedMedia(
        name=name, kind="video", parts=(part,), notices=tuple(notices), source_format=fmt,
        details={"source_frames": n_frames, "source_seconds": round(sum(durations) / 1000, 3)},
    )


def _list_limits(model: ModelSpec) -> tuple[ImageListLimits, VideoLimits]:
    assert model.image_list is not None and model.video is not None  # checked by the caller
    return model.image_list, model.video
