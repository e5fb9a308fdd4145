"""Media pipeline benchmark: ratios measured in one run against baselines on this machine.

    .venv/bin/python bench/media.py [--quick]

1. Voice notes (OGG/Opus 48 kHz mono, 60 s and 10 min): time of ``prepare_media`` divided by
   the time of the single ffmpeg command that writes the same output (goal <= 1.2).
2. Event-loop lag (max, p99) while 8 one-minute 1080p videos are prepared at once
   (goal p99 <= 20 ms, max <= 50 ms).
3. Peak resident memory added to this process while preparing a ~100 MB video (goal <= 150 MB).
4. Peak memory and time of preparing hostile and near-limit images (narrow PNG bombs of
   1x300,000 and 1x79,000,000 pixels, a 37-megapixel RGB PNG, a 23-megapixel RGBA PNG), each
   in a fresh process with its image worker (goal <= 300 MB, seconds not minutes).

Inputs are generated here with ffmpeg; nothing is downloaded.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import resource
import shutil
import statistics
import struct
import subprocess
import sys
import tempfile
import time
import zlib
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from omnicord.errors import MediaError
from omnicord.media.audio import Encoding, choose_encoding
from omnicord.media.ffmpeg import ffmpeg_exe
from omnicord.media.image import prepare_image
from omnicord.media.prepare import prepare_media
from omnicord.media.types import REQUEST_MEDIA_BUDGET, MediaTarget
from omnicord.model.catalog import find_model

FLASH = MediaTarget(find_model("qwen3-omni-flash"))


def ffmpeg(*args: str) -> None:
    subprocess.run([ffmpeg_exe(), "-hide_banner", "-loglevel", "error", "-nostdin", "-y", *args],
                   check=True)


def make_voice_note(path: Path, seconds: int) -> Path:
    source = f"sine=frequency=220:sample_rate=48000:duration={seconds},tremolo=f=4:d=0.8"
    ffmpeg("-f", "lavfi", "-i", source, "-ac", "1", "-c:a", "libopus", "-b:a", "32k", str(path))
    return path


def make_video(path: Path, seconds: int, size: str, bitrate: str) -> Path:
    ffmpeg("-f", "lavfi", "-i", f"testsrc2=size={size}:rate=30:duration={seconds}",
           "-f", "lavfi", "-i", f"sine=frequency=330:duration={seconds}",
           "-c:v", "libx264", "-preset", "ultrafast", "-b:v", bitrate, "-pix_fmt", "yuv420p",
           "-c:a", "aac", "-shortest", str(path))
    return path


def median_seconds(action, runs: int) -> float:
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        action()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def voice_note_ratio(work: Path, seconds: int, runs: int) -> tuple[float, float, float]:
    note = make_voice_note(work / f"note-{seconds}.ogg", seconds)
    encoding = choose_encoding(seconds, REQUEST_MEDIA_BUDGET) or Encoding("mp3", 16)
    out = work / f"baseline.{encoding.format}"
    baseline = median_seconds(
        lambda: ffmpeg("-i", str(note), "-map", "0:a:0", *encoding.args(), str(out)), runs
    )
    ours = median_seconds(
        lambda: asyncio.run(prepare_media(note, name=note.name, target=FLASH)), runs
    )
    return ours, baseline, ours / baseline


async def loop_lag_while(jobs) -> tuple[float, float]:
    lags: list[float] = []
    done = asyncio.Event()

    async def probe() -> None:
        interval = 0.005
        while not done.is_set():
            start = time.perf_counter()
            await asyncio.sleep(interval)
            lags.append(max(0.0, time.perf_counter() - start - interval))

    watcher = asyncio.create_task(probe())
    await asyncio.gather(*jobs)
    done.set()
    await watcher
    lags.sort()
    return lags[-1] * 1000, lags[int(len(lags) * 0.99)] * 1000


def video_lag(work: Path, count: int, seconds: int) -> tuple[float, float, float]:
    first = make_video(work / "v0.mp4", seconds, "1920x1080", "4M")
    videos = [first] + [Path(shutil.copy(first, work / f"v{i}.mp4")) for i in range(1, count)]
    start = time.perf_counter()
    worst, p99 = asyncio.run(loop_lag_while(
        [prepare_media(v, name=v.name, target=FLASH) for v in videos]
    ))
    return worst, p99, time.perf_counter() - start


def peak_memory(work: Path, megabytes: int) -> tuple[float, float]:
    """Measured in a fresh process, so earlier work does not hide the peak."""
    seconds = 60
    bitrate = f"{megabytes * 8 * 1000 // seconds}k"
    video = make_video(work / "big.mp4", seconds, "1920x1080", bitrate)
    size = video.stat().st_size / 1e6
    child = subprocess.run([sys.executable, __file__, "--memory-child", str(video)],
                           capture_output=True, text=True, check=True)
    return float(child.stdout.strip()), size


def memory_child(video: Path) -> None:
    """Print the peak RSS (MB) this process adds while preparing ``video``."""
    asyncio.run(asyncio.sleep(0))  # let the loop machinery load before the baseline
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    asyncio.run(prepare_media(video, name=video.name, target=FLASH))
    after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"{after - before:.1f}")


def narrow_png(path: Path, height: int) -> Path:
    """A 1-pixel-wide grey PNG: a few hundred bytes per million rows."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        crc = struct.pack(">I", zlib.crc32(kind + data))
        return struct.pack(">I", len(data)) + kind + data + crc

    packer = zlib.compressobj(9)
    rows = b"\x00\x80" * 1_000_000
    body = [packer.compress(rows[: 2 * min(1_000_000, height - start)])
            for start in range(0, height, 1_000_000)]
    header = struct.pack(">IIBBBBB", 1, height, 8, 0, 0, 0, 0)
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header)
                     + chunk(b"IDAT", b"".join(body) + packer.flush()) + chunk(b"IEND", b""))
    return path


def noise_png(path: Path, width: int, height: int, mode: str) -> Path:
    from PIL import Image

    small = (width // 8, height // 8)
    block = Image.frombytes(mode, small, os.urandom(small[0] * small[1] * len(mode)))
    block.resize((width, height), Image.Resampling.NEAREST).save(path, compress_level=1)
    return path


def image_bounds(work: Path) -> list[tuple[str, float, float, str]]:
    """(case, peak MB, seconds, outcome) for each hostile or near-limit image."""
    cases = [
        ("1x300,000 PNG", narrow_png(work / "narrow-300k.png", 300_000)),
        ("1x79,000,000 PNG", narrow_png(work / "narrow-79m.png", 79_000_000)),
        ("7000x5300 RGB PNG", noise_png(work / "rgb.png", 7000, 5300, "RGB")),
        ("5500x4200 RGBA PNG", noise_png(work / "rgba.png", 5500, 4200, "RGBA")),
    ]
    results = []
    for label, path in cases:
        child = subprocess.run([sys.executable, __file__, "--image-child", str(path)],
                               capture_output=True, text=True, check=True)
        peak, seconds, outcome = child.stdout.strip().split("\t")
        results.append((label, float(peak), float(seconds), outcome))
    return results


def image_child(path: Path) -> None:
    """Print peak memory (MB, this process and its worker), seconds and the outcome."""
    start = time.perf_counter()
    try:
        media = asyncio.run(prepare_image(path, name=path.name, fmt="png", target=FLASH))
        outcome = f"{media.parts[0].width}x{media.parts[0].height}"
    except MediaError as error:
        outcome = str(error)
    seconds = time.perf_counter() - start
    # ru_maxrss counts a parent's memory at fork: this process's own peak is its VmHWM.
    status = Path("/proc/self/status").read_text()
    own = int(status.split("VmHWM:")[1].split()[0])
    peak = max(own, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss) / 1024
    print(f"{peak:.0f}\t{seconds:.2f}\t{outcome}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer runs, shorter videos")
    parser.add_argument("--only", choices=("voice", "lag", "memory", "images"),
                        help="run one part")
    parser.add_argument("--memory-child", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--image-child", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.memory_child:
        memory_child(args.memory_child)
        return
    if args.image_child:
        image_child(args.image_child)
        return
    runs = 3 if args.quick else 5
    with tempfile.TemporaryDirectory(prefix="omnicord-bench-") as folder:
        work = Path(folder)
        print(f"ffmpeg: {ffmpeg_exe()}")
        if args.only in (None, "voice"):
            for seconds in (60, 600):
                ours, base, ratio = voice_note_ratio(work, seconds, runs)
                print(f"voice note {seconds:>4} s: prepare {ours * 1000:7.1f} ms, single ffmpeg "
                      f"{base * 1000:7.1f} ms, ratio {ratio:.2f} (goal <= 1.2)")
        if args.only in (None, "lag"):
            worst, p99, total = video_lag(work, 8, 20 if args.quick else 60)
            print(f"event-loop lag, 8 x 1080p videos at once: max {worst:.1f} ms, p99 "
                  f"{p99:.1f} ms (goal max <= 50, p99 <= 20); all prepared in {total:.1f} s")
        if args.only in (None, "memory"):
            added, size = peak_memory(work, 100)
            print(f"peak memory added preparing a {size:.0f} MB video: {added:.0f} MB "
                  "(goal <= 150)")
        if args.only in (None, "images"):
            for label, peak, seconds, outcome in image_bounds(work):
                print(f"image {label}: peak {peak:.0f} MB, {seconds:.1f} s, {outcome} "
                      "(goal <= 300 MB)")


if __name__ == "__main__":
    main()
