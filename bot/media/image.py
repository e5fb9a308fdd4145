"""Images made ready for Qwen-Omni: safe to decode, upright, stripped, sized and within budget.

A still image becomes one JPEG (or a PNG when it really has transparency, or an opaque PNG
source that stays small) at the largest size the model actually reads, padded where the API's
shape rules demand it. An animated GIF, WebP or PNG becomes a list of JPEG frames sampled at
the model's video rate, sent as a video.

Every job is bounded before a pixel is decoded: the header's size and mode give the memory the
decoder and the working copies will take, and a file over ``MAX_WORKING_BYTES`` (or
``MAX_SOURCE_PIXELS``) is refused. A JPEG is decoded already scaled down; every other source
is shrunk in its own mode first, so the padded, upright, colour-managed picture exists only at
the size the model reads. The job runs in a worker process that a timeout kills.
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
from typing import cast

from omnicord.errors import MediaError
from omnicord.i18n import text
from omnicord.media.frames import fewer
from omnicord.media.tokens import (
    image_list_tokens,
    image_size_for_tokens,
    image_tokens,
    video_frame_size,
)
from omnicord.media.types import MediaTarget, Notice, PreparedMedia, PreparedPart
from omnicord.media.worker import run_in_process
from omnicord.model.catalog import (
    MAX_DATA_URI_BYTES,
    ImageListLimits,
    ImageRules,
    ModelSpec,
    VideoLimits,
)
from omnicord.model.parts import data_url_chars, image_list_part, image_part
from PIL import ExifTags, Image, ImageCms

#: Largest source image (width × height) Omnicord agrees to decode.
MAX_SOURCE_PIXELS = 80_000_000
#: Memory one image job may take for decoded pixels and their full-size working copies; with
#: the worker's own ~30 MB and the small output, a job peaks under 300 MB.
MAX_WORKING_BYTES = 224 * 1024 * 1024
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

DAMAGED = text("errors.image_damaged")

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
#: Bytes Pillow keeps per pixel, by mode (everything else takes 4), plus a pointer per row.
_PIXEL_BYTES = {"1": 1, "L": 1, "P": 1, "I;16": 2, "I;16B": 2, "I;16L": 2, "I;16N": 2}
_ROW_POINTER_BYTES = 8
#: Full-size images alive while some decoders run, Pillow's own included (measured).
_DECODER_COPIES = {"webp": 4, "heif": 3}
#: Modes resized by area averaging in place of a full-size conversion first.
_SMOOTH_MODES = frozenset({"L", "RGB", "RGBA", "LA", "CMYK", "I", "F"})
_PREMULTIPLIED = frozenset({"LA", "RGBA"})  # Pillow copies these whole to resize them
#: Animated formats keep the previous frame (for disposal) beside the current one.
_ANIMATION_COPIES = 4
_TRANSPOSES = {
    2: Image.Transpose.FLIP_LEFT_RIGHT, 3: Image.Transpose.ROTATE_180,
    4: Image.Transpose.FLIP_TOP_BOTTOM, 5: Image.Transpose.TRANSPOSE,
    6: Image.Transpose.ROTATE_270, 7: Image.Transpose.TRANSVERSE, 8: Image.Transpose.ROTATE_90,
}

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

    Raises MediaError with a member-facing sentence when the image cannot be used. The work runs
    in a worker process, killed if it takes over ``IMAGE_TIMEOUT`` seconds.
    """
    return await run_in_process(prepare_image_sync, path, name, fmt, target,
                                timeout=IMAGE_TIMEOUT)


def prepare_image_sync(path: Path, name: str, fmt: str, target: MediaTarget) -> PreparedMedia:
    try:
        return _prepare_checked(path, name, fmt, target)
    except MediaError:
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning, MemoryError):
        raise MediaError(text("errors.image_too_large")) from None
    except Exception:
        # Decoders raise many exception types on hostile input; none is worth showing.
        raise MediaError(DAMAGED) from None


def _prepare_checked(path: Path, name: str, fmt: str, target: MediaTarget) -> PreparedMedia:
    rules = target.model.image
    if rules is None:
        raise MediaError(text("errors.model_takes_no_images", model=target.model.name))
    if fmt not in _PIL_FORMATS:
        raise MediaError(DAMAGED)
    if fmt == "heif":
        _enable_heif()
    if path.stat().st_size == 0:
        raise MediaError(text("errors.image_empty"))
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
        raise MediaError(text("errors.heic_unsupported")) from None
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
        megapixels = round(width * height / 1_000_000)
        raise MediaError(text("errors.image_megapixels", megapixels=megapixels))


def decoded_bytes(width: int, height: int, mode: str) -> int:
    """Memory Pillow takes for a decoded ``width`` × ``height`` image in ``mode``."""
    return height * (_ROW_POINTER_BYTES + width * _PIXEL_BYTES.get(mode, 4))


def _check_memory(im: Image.Image, fmt: str, copies: float) -> None:
    """Refuse, from the header alone, a picture whose decoding would take too much memory.

    ``copies`` counts the full-size images alive at once after decoding; some decoders hold
    more while they run.
    """
    width, height = im.size
    cost = decoded_bytes(width, height, im.mode) * max(copies, _DECODER_COPIES.get(fmt, 1))
    if cost > MAX_WORKING_BYTES:
        raise MediaError(text("errors.image_dimensions", width=width, height=height))


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


def _orientation(im: Image.Image) -> int:
    """The EXIF orientation (1 to 8); broken EXIF must not cost the member the picture."""
    try:
        orientation = im.getexif().get(ExifTags.Base.Orientation, 1)
    except Exception:
        return 1
    return orientation if orientation in _TRANSPOSES else 1


def _swapped(size: tuple[int, int], orientation: int) -> tuple[int, int]:
    """``size`` turned a quarter when ``orientation`` turns the picture."""
    return (size[1], size[0]) if orientation in (5, 6, 7, 8) else size


def _upright(picture: Image.Image, orientation: int) -> Image.Image:
    method = _TRANSPOSES.get(orientation)
    return picture.transpose(method) if method is not None else picture


def _source_notices(im: Image.Image, fmt: str) -> list[str]:
    notices: list[str] = []
    if _had_location(im):
        notices.append(Notice(text("chat.notice_location_removed")))
    pages = getattr(im, "n_frames", 1) if fmt == "tiff" else 1
    if pages > 1:
        notices.append(Notice(text("chat.notice_first_page", count=pages)))
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
        low, high = cast(tuple[float, float], im.getextrema())  # one band: (min, max)
        scale = 255 / (high - low) if high > low else 1.0
        offset = -low * scale
    return im.convert("F").point(lambda v: v * scale + offset).convert("L")


def _normalise(im: Image.Image) -> Image.Image:
    """RGB, or RGBA when some pixel is actually transparent (``im`` is already small)."""
    if im.mode in _HIGH_DEPTH_MODES:
        im = _to_8bit(im)
    im = _to_srgb(im)
    if im.has_transparency_data:
        rgba = im.convert("RGBA")
        alpha_low, _ = cast(tuple[int, int], rgba.getchannel("A").getextrema())  # one band
        if alpha_low < 255:
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


def _scaled(size: tuple[int, int], frame: tuple[int, int], canvas: tuple[int, int]
            ) -> tuple[int, int]:
    """``size`` scaled as ``frame`` is scaled to ``canvas`` (at least 1 px, never larger)."""
    return (
        max(1, min(size[0], round(size[0] * canvas[0] / frame[0]))),
        max(1, min(size[1], round(size[1] * canvas[1] / frame[1]))),
    )


def _shrink(im: Image.Image, size: tuple[int, int]) -> Image.Image:
    """``im`` brought down towards ``size`` in its own mode, before any full-size conversion.

    Palette, bilevel, 16-bit and colour-keyed pictures are first sampled to twice ``size``
    (exact colours kept); the smooth resize to ``size`` then happens once they are small.
    """
    if im.size == size:
        return im
    if im.mode in _SMOOTH_MODES and "transparency" not in im.info:
        return im.resize(size, Image.Resampling.LANCZOS, reducing_gap=2.0)
    near = (min(im.width, 2 * size[0]), min(im.height, 2 * size[1]))
    return im.resize(near, Image.Resampling.NEAREST) if near != im.size else im


@dataclass(frozen=True)
class _Plan:
    """A still's sizes: as displayed, padded to the shape rules, sent, and its picture inside."""

    orientation: int
    original: tuple[int, int]  # as displayed
    logical: tuple[int, int]  # padded to the shape rules, at full scale
    canvas: tuple[int, int]  # what is sent (before the final rounding pad)
    content: tuple[int, int]  # the picture inside ``canvas``, as displayed

    @property
    def stored_content(self) -> tuple[int, int]:
        """``content`` as the file stores it (before the EXIF turn)."""
        return _swapped(self.content, self.orientation)


def _plan(im: Image.Image, rules: ImageRules) -> _Plan:
    orientation = _orientation(im)
    original = _swapped(im.size, orientation)
    logical = _padded_size(*original, rules)
    canvas = _model_size(logical, rules) or logical
    content = _scaled(original, logical, canvas)
    return _Plan(orientation, original, logical, canvas, content)


def _decode_planned(im: Image.Image, fmt: str, rules: ImageRules) -> _Plan:
    """Check the decoding's memory from the header, then plan; a JPEG decodes scaled down."""
    if im.format == "JPEG":  # its EXIF is in the header: plan first, then ask for less
        plan = _plan(im, rules)
        im.draft(None, plan.stored_content)
        _check_memory(im, fmt, _working_copies(im.mode))
        return plan
    _check_memory(im, fmt, _working_copies(im.mode))
    return _plan(im, rules)  # reading a PNG's EXIF may decode it: only now is that safe


def _working_copies(mode: str) -> float:
    """Full-size images alive while shrinking: the decoded one, a premultiplied copy, the
    area-averaged quarter (its resampling pass is smaller still)."""
    return 1.5 + (1 if mode in _PREMULTIPLIED else 0)


def _shaped(im: Image.Image, plan: _Plan, rules: ImageRules) -> Image.Image:
    """Upright, normalised, padded to the shape rules and no bigger than the model reads."""
    picture = _shrink(im, plan.stored_content)  # a resized copy keeps the ICC profile in .info
    picture = _normalise(_upright(picture, plan.orientation))
    if picture.size != plan.content:
        picture = _resize(picture, plan.content)
    picture = _pad(picture, plan.canvas)
    # Rounding to whole blocks can tip a very long image past 200:1 again.
    return _pad(picture, _padded_size(*picture.size, rules))


# --------------------------------------------------------------------------- encoding


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
        return len(data) <= rules.max_bytes and data_url_chars(len(data), _MIME[kind]) <= limit

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
        raise MediaError(text("errors.image_cannot_shrink") if what == "image"
                         else text("errors.animation_cannot_shrink"))
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
    plan = _decode_planned(im, fmt, rules)
    source_notices = _source_notices(im, fmt)
    original = plan.original
    picture = _shaped(im, plan, rules)
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
    notices: list[str] = []
    if encoded.format != fmt:
        notices.append(Notice(text("chat.notice_converted", source=label)))
    width, height = original
    reshaped = _ratio_padded(width, height, rules)
    padded = _padded_size(width, height, rules)
    if padded == reshaped != original:
        notices.append(Notice(text("chat.notice_padded_shape",
                                   ratio=round(rules.max_aspect_ratio))))
    elif padded != original:
        notices.append(Notice(text("chat.notice_padded", width=str(width), height=str(height))))
    if encoded.width < width or encoded.height < height:
        notices.append(Notice(text(  # sizes as written for pictures: no separators
            "chat.notice_downscaled", width=str(width), height=str(height),
            new_width=str(encoded.width), new_height=str(encoded.height))))
    if encoded.lowered:
        notices.append(Notice(text("chat.notice_compressed")))
    return notices


# --------------------------------------------------------------------------- animations


def _frame_ms(value: object) -> float:
    duration = float(value) if isinstance(value, int | float) else 0.0
    return duration if duration >= 20 else DEFAULT_FRAME_MS


def _durations(im: Image.Image, fmt: str, count: int) -> list[float]:
    """Milliseconds each frame shows (WebP reports a frame's duration only once it is loaded)."""
    durations = []
    for index in range(count):
        im.seek(index)
        # A GIF frame may claim a larger canvas than the file's header.
        _check_pixels(im)
        _check_memory(im, fmt, _ANIMATION_COPIES)
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
    if size[0] * size[1] > video.max_frame_blocks * video.block_px ** 2:
        raise MediaError(text("errors.animation_shape"))  # never a canvas this big
    return size


def _decode_frames(
    im: Image.Image, indices: list[int], video: VideoLimits, rules: ImageRules
) -> list[Image.Image]:
    """The frames at ``indices``, each shrunk before it is flattened and padded."""
    logical = _padded_size(im.width, im.height, rules)
    size = _frame_size(logical, len(indices), video, rules)
    final = _padded_size(*size, rules)  # rounding to whole blocks can pass 200:1 again
    frames: dict[int, Image.Image] = {}
    for index in sorted(set(indices)):
        im.seek(index)
        content = _scaled(im.size, logical, size)
        frame = _flatten(_shrink(im, content))
        frame = _resize(frame, content) if frame.size != content else frame
        frames[index] = _pad(_pad(frame, size), final)
    return [frames[index] for index in indices]


def _list_size(encoded: list[bytes]) -> int:
    return sum(data_url_chars(len(data), "image/jpeg") for data in encoded)


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
        thinned = fewer(frames, budget / _list_size(encoded), minimum=minimum)
        if thinned is None:
            frames = [_halve(frame, rules.min_side_px, "animation") for frame in frames]
        else:
            frames = thinned


def _animation(
    im: Image.Image, name: str, fmt: str, target: MediaTarget, rules: ImageRules
) -> PreparedMedia:
    model = target.model
    limits, video = _list_limits(model)
    n_frames: int = getattr(im, "n_frames", 1)  # only multi-frame formats define it
    if n_frames * im.width * im.height > MAX_ANIMATION_PIXELS:
        raise MediaError(text("errors.animation_too_large", frames=n_frames, width=im.width,
                              height=im.height))
    _check_memory(im, fmt, _ANIMATION_COPIES)
    notices = _source_notices(im, fmt)
    durations = _durations(im, fmt, n_frames)
    count = _frame_count(n_frames, sum(durations) / 1000, limits, video)
    frames = _decode_frames(im, _sample(durations, count), video, rules)
    frames, encoded, lowered = _fit_frames(frames, limits.min_images, target.budget_bytes, rules)
    width, height = frames[0].size
    notices.insert(0, Notice(text("chat.notice_animation_frames", source=_LABELS[fmt],
                                      count=len(frames))))
    if lowered:
        notices.append(Notice(text("chat.notice_compressed")))
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
