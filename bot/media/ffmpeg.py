"""Finding ffmpeg and running it off the event loop.

A system ffmpeg is used when it has the encoders Omnicord needs; otherwise the static build
shipped in the imageio-ffmpeg wheel, so a fresh machine needs no system packages. The
``OMNICORD_FFMPEG`` setting (``Settings.ffmpeg``) overrides the search once
``configure_ffmpeg`` is given it. pydub is pointed at the same binary.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import shutil
import subprocess
import warnings
import weakref
from collections.abc import Callable, Sequence
from functools import lru_cache
from typing import Any, TypeVar

from omnicord.errors import ConfigError, MediaError
from omnicord.i18n.text import Duration, Text, text
from omnicord.media.children import spawn_child

T = TypeVar("T")

#: Encoders the pipeline uses that a build may lack (voice replies, MP3 audio, MP4 video).
REQUIRED_ENCODERS = ("libopus", "libmp3lame", "libx264")
_ENCODER_CHECK_TIMEOUT = 10
#: What a member is told when ffmpeg fails and the caller gave no better sentence.
CONVERSION_FAILED = text("errors.conversion_failed")

log = logging.getLogger(__name__)
_configured: str | None = None


def _has_encoders(exe: str) -> bool:
    try:
        listing = subprocess.run(
            [exe, "-hide_banner", "-encoders"],
            capture_output=True,
            text=True,
            timeout=_ENCODER_CHECK_TIMEOUT,
            check=False,
        ).stdout
    except (OSError, subprocess.SubprocessError):
        return False
    return all(f" {name} " in listing for name in REQUIRED_ENCODERS)


def configure_ffmpeg(path: str | None) -> None:
    """Use the ffmpeg at ``path`` (the ``OMNICORD_FFMPEG`` setting), or search when None.

    Raises ConfigError naming the setting when ``path`` is not an executable.
    """
    global _configured
    path = (path or "").strip() or None
    if path is not None and not shutil.which(path):
        raise ConfigError(f"OMNICORD_FFMPEG: no ffmpeg at {path!r}")
    _configured = path
    ffmpeg_exe.cache_clear()
    pydub_segment.cache_clear()


@lru_cache(maxsize=1)
def ffmpeg_exe() -> str:
    """Path of the ffmpeg binary to use (the configured one, else the search's choice)."""
    if _configured:
        return _configured
    system = shutil.which("ffmpeg")
    if system and _has_encoders(system):
        return system
    import imageio_ffmpeg

    return imageio_ffmpeg.get_ffmpeg_exe()


@lru_cache(maxsize=1)
def pydub_segment() -> type:
    """pydub's ``AudioSegment``, pointed at the same ffmpeg (it otherwise looks only on PATH)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # pydub warns when PATH has no ffmpeg
        from pydub import AudioSegment
    AudioSegment.converter = ffmpeg_exe()
    return AudioSegment


def _max_jobs() -> int:
    return max(1, os.cpu_count() or 1)


_slots: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, asyncio.Semaphore] = (
    weakref.WeakKeyDictionary()
)


def job_slot() -> asyncio.Semaphore:
    """The running loop's bound on concurrent media jobs (one per CPU)."""
    loop = asyncio.get_running_loop()
    slots = _slots.get(loop)
    if slots is None:
        slots = _slots[loop] = asyncio.Semaphore(_max_jobs())
    return slots


async def run_in_thread(function: Callable[..., T], *args: Any, timeout: float = 120.0) -> T:
    """Run short, bounded native work in a thread, under the same job bound.

    A thread cannot be stopped: only work whose cost is bounded before it starts belongs here
    (heavy Pillow work goes to ``omnicord.media.worker.run_in_process``).
    """
    async with job_slot():
        try:
            async with asyncio.timeout(timeout):
                return await asyncio.to_thread(function, *args)
        except TimeoutError:
            raise MediaError(text("errors.processing_timeout", limit=Duration(timeout))) from None


async def ffmpeg_process(
    args: Sequence[str], *, stdin: bytes | None = None, timeout: float = 120.0,
    loglevel: str = "error",
) -> tuple[int, bytes, bytes]:
    """Run ffmpeg; return (exit status, stdout, stderr). Bounded, killed on timeout or cancel."""
    base = ["-hide_banner", "-loglevel", loglevel] + (["-nostdin"] if stdin is None else [])
    exe = await _exe()
    async with job_slot():
        process = await spawn_child(
            exe,
            *base,
            *args,
            stdin=subprocess.DEVNULL if stdin is None else subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        out, err = await communicate_or_kill(process, stdin, timeout, doing="Converting")
    return process.returncode or 0, out, err


async def _exe() -> str:
    """``ffmpeg_exe()``; only its first call, which runs the search's encoder check, needs a
    thread."""
    if ffmpeg_exe.cache_info().currsize:
        return ffmpeg_exe()
    return await asyncio.to_thread(ffmpeg_exe)


async def communicate_or_kill(
    process: asyncio.subprocess.Process, data: bytes | None, timeout: float, *, doing: str
) -> tuple[bytes, bytes]:
    """Feed ``data`` and collect the output; the process is killed (and reaped) on timeout or
    cancellation, so no work outlives its caller."""
    try:
        async with asyncio.timeout(timeout):
            return await process.communicate(data)
    except TimeoutError:
        await kill_process(process)
        raise MediaError(text("errors.processing_timeout", limit=Duration(timeout))) from None
    except BaseException:
        await kill_process(process)
        raise


async def run_ffmpeg(
    args: Sequence[str], *, stdin: bytes | None = None, timeout: float = 120.0,
    failure: str | Text = CONVERSION_FAILED,
) -> bytes:
    """Run ffmpeg with ``args`` and return its stdout; MediaError(``failure``) if it fails.

    ffmpeg's own message names server paths and internals: it goes to the log, never to the
    member. At most one media job per CPU runs at once; a job over ``timeout`` seconds, or
    whose caller is cancelled, is killed.
    """
    status, out, err = await ffmpeg_process(args, stdin=stdin, timeout=timeout)
    if status != 0:
        log.debug("ffmpeg failed (%s): %s", status, _last_line(err))
        raise MediaError(failure)
    return out


async def kill_process(process: asyncio.subprocess.Process) -> None:
    """Kill ``process`` and wait until it is gone."""
    with contextlib.suppress(ProcessLookupError):
        process.kill()
    await process.wait()


def _last_line(stderr: bytes) -> str:
    lines = [line.strip() for line in stderr.decode("utf-8", "replace").splitlines()]
    return next((line for line in reversed(lines) if line), "")
