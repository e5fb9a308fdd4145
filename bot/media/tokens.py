"""Input-token estimates for media, following the vendor's published algorithms.

``image_size_for_tokens`` / ``image_tokens`` are the seed's ``token_calculate``;
``video_frame_count`` / ``video_frame_size`` / ``video_tokens`` are its ``smart_nframes``,
``smart_resize`` and ``video_token_calculate``; audio is billed per second (minimum 1 s).
"""

from __future__ import annotations

import math

from omnicord.model.catalog import AudioLimits, ImageRules, VideoLimits


def image_size_for_tokens(width: int, height: int, rules: ImageRules) -> tuple[int, int]:
    """The (width, height) the model resizes an image to, multiples of its block size."""
    factor = rules.block_px
    h_bar = round(height / factor) * factor
    w_bar = round(width / factor) * factor
    min_pixels = rules.min_tokens * factor * factor
    max_pixels = rules.max_tokens * factor * factor
    if h_bar * w_bar > max_pixels:
        beta = math.sqrt((height * width) / max_pixels)
        h_bar = math.floor(height / beta / factor) * factor
        w_bar = math.floor(width / beta / factor) * factor
    elif h_bar * w_bar < min_pixels:
        beta = math.sqrt(min_pixels / (height * width))
        h_bar = math.ceil(height * beta / factor) * factor
        w_bar = math.ceil(width * beta / factor) * factor
    return w_bar, h_bar


def image_tokens(width: int, height: int, rules: ImageRules) -> int:
    """Tokens one image of this size costs (the seed's ``token_calculate``)."""
    w_bar, h_bar = image_size_for_tokens(width, height, rules)
    return (h_bar * w_bar) // (rules.block_px * rules.block_px) + rules.extra_tokens


def _round_by(number: float, factor: int) -> int:
    return round(number / factor) * factor


def _ceil_by(number: float, factor: int) -> int:
    return math.ceil(number / factor) * factor


def _floor_by(number: float, factor: int) -> int:
    return math.floor(number / factor) * factor


def video_frame_count(total_frames: int, fps: float, limits: VideoLimits) -> int:
    """Frames the model samples from a video (the seed's ``smart_nframes``)."""
    factor = limits.frame_factor
    min_frames = _ceil_by(limits.min_frames, factor)
    max_frames = _floor_by(min(limits.max_frames, total_frames), factor)
    duration = total_frames / fps if fps else 0
    if duration - int(duration) > 1 / limits.fps:
        total_frames = math.ceil(duration * fps)
    else:
        total_frames = math.ceil(int(duration) * fps)
    nframes = total_frames / fps * limits.fps if fps else 0
    nframes = int(min(min(max(nframes, min_frames), max_frames), total_frames))
    return max(nframes, 0)


def video_frame_size(width: int, height: int, nframes: int, limits: VideoLimits) -> tuple[int, int]:
    """(width, height) each sampled frame is resized to (the seed's ``smart_resize``)."""
    factor = limits.block_px
    block = factor * factor
    min_pixels = limits.min_frame_blocks * block
    total_pixels = limits.total_blocks * block
    max_pixels = max(
        min(limits.max_frame_blocks * block, total_pixels / max(nframes, 1) * limits.frame_factor),
        int(min_pixels * 1.05),
    )
    h_bar = max(factor, _round_by(height, factor))
    w_bar = max(factor, _round_by(width, factor))
    if h_bar * w_bar > max_pixels:
        beta = math.sqrt((height * width) / max_pixels)
        h_bar = _floor_by(height / beta, factor)
        w_bar = _floor_by(width / beta, factor)
    elif h_bar * w_bar < min_pixels:
        beta = math.sqrt(min_pixels / (height * width))
        h_bar = _ceil_by(height * beta, factor)
        w_bar = _ceil_by(width * beta, factor)
    return w_bar, h_bar


def video_tokens(width: int, height: int, seconds: float, fps: float, limits: VideoLimits) -> int:
    """Picture tokens of a video file (its sound is counted separately as audio)."""
    total_frames = max(1, round(seconds * fps))
    nframes = max(video_frame_count(total_frames, fps, limits), limits.frame_factor)
    w_bar, h_bar = video_frame_size(width, height, nframes, limits)
    factor = limits.block_px
    return math.ceil(nframes / limits.fps) * (h_bar // factor) * (w_bar // factor) + (
        limits.extra_tokens
    )


def image_list_tokens(width: int, height: int, frames: int, limits: VideoLimits) -> int:
    """Tokens of a video sent as ``frames`` still images (sampled as a 2-fps video would be)."""
    w_bar, h_bar = video_frame_size(width, height, frames, limits)
    factor = limits.block_px
    return math.ceil(frames / limits.frame_factor) * (h_bar // factor) * (w_bar // factor) + (
        limits.extra_tokens
    )


def audio_tokens(seconds: float, limits: AudioLimits) -> int:
    """Tokens of an audio clip: per second, at least ``min_billed_seconds``."""
    return math.ceil(max(seconds, limits.min_billed_seconds) * limits.tokens_per_second)


def text_tokens(text: str) -> int:
    """A conservative token estimate for text: three ASCII characters a token, and every other
    character a token of its own (real tokenizers average nearer four for English)."""
    ascii_chars = sum(1 for char in text if char.isascii())
    return -(-ascii_chars // 3) + (len(text) - ascii_chars)
