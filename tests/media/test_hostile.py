"""Hostile and broken media: bounded memory and time, forged lengths, killable jobs, honest words.

Memory is measured in a child process (its own peak and its children's), never timed in-process.
"""

from __future__ import annotations

import asyncio
import base64
import json
import os
import signal
import struct
import subprocess
import sys
import textwrap
import time
import zlib
from pathlib import Path

import pytest
from omnicord.errors import MediaError
from omnicord.media import audio, image
from omnicord.media.image import prepare_image
from omnicord.media.prepare import prepare_media
from omnicord.media.types import MediaTarget
from omnicord.media.worker import run_in_process
from omnicord.model.catalog import find_model
from PIL import Image

from tests.conftest import REPO, run_cli
from tests.doubles.media import TOOL, hold_memory, probe, test_pattern_video, tone, voice_note

FLASH = find_model("qwen3-omni-flash")
TURBO = find_model("qwen-omni-turbo")
CAPTIONER = find_model("qwen3-omni-30b-a3b-captioner")
PEAK_LIMIT_MB = 300
#: The child may map this much at most, so a regression fails the test rather than the machine.
CHILD_ADDRESS_SPACE = 3 << 30


# --------------------------------------------------------------------------- makers


def _chunk(kind: bytes, data: bytes) -> bytes:
    body = kind + data
    return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))


def narrow_png(path: Path, height: int) -> Path:
    """A 1-pixel-wide 8-bit grey PNG ``height`` pixels tall, compressed as it is streamed."""
    packer = zlib.compressobj(9)
    rows = b"\x00\x80" * 1_000_000  # filter byte + one grey pixel, a million rows at a time
    data = []
    for start in range(0, height, 1_000_000):
        count = min(1_000_000, height - start)
        data.append(packer.compress(rows if count == 1_000_000 else rows[: 2 * count]))
    data.append(packer.flush())
    header = struct.pack(">IIBBBBB", 1, height, 8, 0, 0, 0, 0)
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + _chunk(b"IHDR", header)
                     + _chunk(b"IDAT", b"".join(data)) + _chunk(b"IEND", b""))
    return path


def narrow_apng(path: Path, height: int) -> Path:
    """A two-frame animated PNG, 1 pixel wide."""
    frames = [Image.new("L", (1, height), shade) for shade in (0, 255)]
    frames[0].save(path, format="PNG", save_all=True, append_images=frames[1:], duration=500)
    return path


def _ogg_crc(data: bytes) -> int:
    crc = 0
    for byte in data:
        crc ^= byte << 24
        for _ in range(8):
            crc = ((crc << 1) ^ 0x04C11DB7) if crc & 0x80000000 else crc << 1
            crc &= 0xFFFFFFFF
    return crc


def forge_ogg_length(path: Path, seconds: float) -> Path:
    """Rewrite the last Ogg page's granule position (and CRC) to claim ``seconds``."""
    data = bytearray(path.read_bytes())
    pre_skip = struct.unpack_from("<H", data, data.find(b"OpusHead") + 10)[0]
    page = data.rfind(b"OggS")
    segments = data[page + 26]
    end = page + 27 + segments + sum(data[page + 27:page + 27 + segments])
    struct.pack_into("<q", data, page + 6, pre_skip + round(seconds * 48_000))
    struct.pack_into("<I", data, page + 22, 0)
    struct.pack_into("<I", data, page + 22, _ogg_crc(bytes(data[page:end])))
    path.write_bytes(bytes(data))
    return path


def claimed_seconds(path: Path) -> float:
    """The length ffmpeg reads from the file's header (not by decoding)."""
    report = subprocess.run([TOOL, "-hide_banner", "-i", str(path)], capture_output=True,
                            text=True, timeout=60).stderr
    hours, minutes, seconds = report.split("Duration: ")[1].split(",")[0].split(":")
    return int(hours) * 3600 + int(minutes) * 60 + float(seconds)


def sent_audio(media, index: int, folder: Path) -> Path:
    part = media.parts[index]
    out = folder / f"sent-{index}.{part.format}"
    out.write_bytes(base64.b64decode(part.part["input_audio"]["data"].split(",", 1)[1]))
    return out


# --------------------------------------------------------------------------- narrow image bombs

_CHILD = textwrap.dedent("""
    import asyncio, json, resource, sys, time
    from pathlib import Path
    resource.setrlimit(resource.RLIMIT_AS, ({limit}, {limit}))
    from omnicord.model.catalog import find_model
    from omnicord.errors import MediaError
    from omnicord.media.image import prepare_image
    from omnicord.media.types import MediaTarget

    path, fmt, model = Path(sys.argv[1]), sys.argv[2], find_model(sys.argv[3])
    started = time.monotonic()
    try:
        media = asyncio.run(prepare_image(path, name=path.name, fmt=fmt,
                                          target=MediaTarget(model)))
        part = media.parts[0]
        result = {{"size": [part.width, part.height], "kind": part.kind,
                   "notices": list(media.notices)}}
    except MediaError as error:
        result = {{"error": str(error)}}
    # ru_maxrss of a process counts its parent's memory at fork time: our own peak is read
    # from VmHWM (this program's memory since exec); a worker's from its rusage, which then
    # over-counts by this small process at most.
    status = Path("/proc/self/status")
    own = (int(status.read_text().split("VmHWM:")[1].split()[0]) if status.exists()
           else resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)
    peak = max(own, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)
    result.update(peak_mb=peak / 1024, seconds=time.monotonic() - started)
    print(json.dumps(result))
""")


def prepare_in_child(path: Path, fmt: str, model: str) -> dict:
    """Prepare ``path`` in a fresh, address-space-capped process; report its peak memory."""
    script = _CHILD.format(limit=CHILD_ADDRESS_SPACE)
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    done = subprocess.run([sys.executable, "-c", script, str(path), fmt, model], env=env,
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


@pytest.mark.parametrize(
    ("height", "maker", "fmt"),
    [(300_000, narrow_png, "png"), (79_000_000, narrow_png, "png"),
     (300_000, narrow_apng, "png")],
    ids=["1x300000-png", "1x79000000-png", "1x300000-apng"],
)
def test_narrow_image_bombs_prepare_in_bounded_memory(
    tmp_path: Path, height: int, maker, fmt: str
) -> None:
    source = maker(tmp_path / "narrow.png", height)
    assert source.stat().st_size < 200_000  # a tiny upload
    outcome = prepare_in_child(source, fmt, "qwen3-omni-flash")
    assert outcome["peak_mb"] <= PEAK_LIMIT_MB, outcome
    assert outcome["seconds"] < 30, outcome  # generous: a bound, not a benchmark
    if "error" in outcome:  # one clear sentence, nothing else
        assert outcome["error"].startswith("the image is too large to process"), outcome
        assert "\n" not in outcome["error"]
        return
    width, tall = outcome["size"]
    assert min(width, tall) > 10 and tall / width <= 200, outcome
    assert width * tall <= FLASH.image.max_pixels * 1.5, outcome


def test_the_1x79000000_png_is_refused_by_its_header(tmp_path: Path) -> None:
    source = narrow_png(tmp_path / "narrow.png", 79_000_000)
    outcome = prepare_in_child(source, "png", "qwen-omni-turbo")
    assert outcome["error"] == "the image is too large to process (1×79,000,000 pixels)"
    assert outcome["peak_mb"] <= 100, outcome  # refused before a pixel is decoded


def noise_png(path: Path, size: tuple[int, int], mode: str) -> Path:
    small = (size[0] // 8, size[1] // 8)
    block = Image.frombytes(mode, small, os.urandom(small[0] * small[1] * len(mode)))
    block.resize(size, Image.Resampling.NEAREST).save(path, compress_level=1)
    return path


@pytest.mark.parametrize(("size", "mode"), [((7000, 5300), "RGB"), ((5500, 4200), "RGBA")])
def test_the_largest_accepted_images_stay_within_the_bound(
    tmp_path: Path, size: tuple[int, int], mode: str
) -> None:
    cost = image.decoded_bytes(*size, mode) * image._working_copies(mode)
    assert 0.85 * image.MAX_WORKING_BYTES < cost <= image.MAX_WORKING_BYTES  # near the limit
    outcome = prepare_in_child(noise_png(tmp_path / "big.png", size, mode), "png",
                               "qwen3-omni-flash")
    assert "error" not in outcome, outcome
    assert outcome["peak_mb"] <= PEAK_LIMIT_MB, outcome


# --------------------------------------------------------------------------- forged Ogg length


@pytest.fixture(scope="module")
def forged_note(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Six minutes of Opus whose last page claims the whole file lasts one second."""
    folder = tmp_path_factory.mktemp("forged")
    long = tone(folder / "long.ogg", 360, rate=8000, codec=["-c:a", "libopus", "-b:a", "6k"])
    forged = forge_ogg_length(long, 1.0)
    assert claimed_seconds(forged) < 2  # ffmpeg believes the header too
    return forged


async def test_forged_ogg_length_is_still_trimmed_to_the_limit(
    forged_note: Path, tmp_path: Path
) -> None:
    media = await prepare_media(forged_note, name="note.ogg", target=MediaTarget(TURBO))
    limit = TURBO.audio.max_seconds
    sent = probe(sent_audio(media, 0, tmp_path)).seconds
    assert limit - 1 <= sent <= limit + 0.1
    assert media.parts[0].seconds == pytest.approx(sent, abs=0.5)
    assert media.inline_bytes <= MediaTarget(TURBO).budget_bytes
    assert "trimmed to the first 3 min" in media.notices


async def test_forged_ogg_length_is_captioned_whole_within_the_budget(
    forged_note: Path, tmp_path: Path
) -> None:
    target = MediaTarget(CAPTIONER, purpose="caption")
    media = await prepare_media(forged_note, name="note.ogg", target=target)
    [part] = media.parts
    assert part.inline_bytes <= target.budget_bytes
    assert probe(sent_audio(media, 0, tmp_path)).seconds == pytest.approx(360, abs=1)
    assert part.end == pytest.approx(360, abs=1)


async def test_captions_stop_at_their_cap_whatever_the_header(
    forged_note: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(audio, "MAX_CAPTION_SECONDS", 120.0)
    target = MediaTarget(CAPTIONER, purpose="caption")
    media = await prepare_media(forged_note, name="note.ogg", target=target)
    assert len(media.parts) == 1
    assert probe(sent_audio(media, 0, tmp_path)).seconds == pytest.approx(120, abs=0.5)
    assert "only the first 2 min captioned" in media.notices


# --------------------------------------------------------------------------- killable jobs


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


async def test_a_job_that_times_out_is_killed_with_its_memory(tmp_path: Path) -> None:
    pid_file = tmp_path / "pid"
    with pytest.raises(MediaError, match="took longer than 3 s"):
        await run_in_process(hold_memory, str(pid_file), 200, timeout=3)
    pid = int(pid_file.read_text())
    assert pid != os.getpid()  # the work ran elsewhere...
    assert not _alive(pid)  # ...and is gone, its 200 MB with it, when the timeout returns


async def test_a_cancelled_job_is_killed(tmp_path: Path) -> None:
    pid_file = tmp_path / "pid"
    task = asyncio.create_task(run_in_process(hold_memory, str(pid_file), 10, timeout=60))
    await asyncio.wait_for(_written_pid(pid_file), 30)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert not _alive(int(pid_file.read_text()))


async def _written_pid(pid_file: Path) -> None:
    for _ in range(600):
        if pid_file.exists() and pid_file.read_text():
            return
        await asyncio.sleep(0.05)


def _image_code_running() -> bool:
    frames = sys._current_frames().values()
    return any(image.__file__ == frame.f_code.co_filename for top in frames
               for frame in _stack(top))


def _stack(frame):
    while frame is not None:
        yield frame
        frame = frame.f_back


async def test_an_image_job_that_times_out_leaves_nothing_running(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    source = tmp_path / "big.png"
    Image.effect_noise((3000, 2000), 64).convert("RGB").save(source, compress_level=1)
    monkeypatch.setattr(image, "IMAGE_TIMEOUT", 0.2)
    with pytest.raises(MediaError, match="took longer than"):
        await prepare_image(source, name="big.png", fmt="png", target=MediaTarget(FLASH))
    await asyncio.sleep(0.3)
    assert not _image_code_running()  # no thread of ours still decoding
    assert _workers() == []  # and no worker process left


def _workers() -> list[int]:
    """Our child processes running the media worker."""
    found = []
    for proc in Path("/proc").iterdir():
        try:
            stat = (proc / "stat").read_text()
            command = (proc / "cmdline").read_bytes()
        except OSError:
            continue
        parent = int(stat.rpartition(")")[2].split()[1])
        if parent == os.getpid() and b"omnicord.media.worker" in command:
            found.append(int(proc.name))
    return found


# --------------------------------------------------------------------------- words members see


@pytest.fixture(scope="module")
def note_bytes(tmp_path_factory: pytest.TempPathFactory) -> bytes:
    return voice_note(tmp_path_factory.mktemp("note") / "v.ogg", 5).read_bytes()


def _corrupt(note: bytes, keep_last: bool) -> bytes:
    """The Opus headers kept, the sound replaced by junk (and maybe the last page kept)."""
    first = note.find(b"OggS", 4)
    audio = note.find(b"OggS", first + 4)  # after OpusHead and OpusTags
    junk = bytes((i * 131 + 7) % 256 for i in range(4000))
    if keep_last:
        return note[:first] + note[note.rfind(b"OggS"):]
    return note[:audio] + junk


@pytest.mark.parametrize("keep_last", [False, True], ids=["junk-sound", "no-sound-pages"])
async def test_undecodable_voice_note_says_so_without_paths(
    note_bytes: bytes, keep_last: bool, tmp_path: Path
) -> None:
    for source in (_corrupt(note_bytes, keep_last), _written(tmp_path, note_bytes, keep_last)):
        with pytest.raises(MediaError) as caught:
            await prepare_media(source, name="voice-message.ogg", content_type="audio/ogg",
                                target=MediaTarget(FLASH))
        message = str(caught.value)
        assert "could not be decoded" in message
        assert "empty" not in message
        assert "/" not in message and "input" not in message and "tmp" not in message


def _written(folder: Path, note: bytes, keep_last: bool) -> Path:
    path = folder / "voice-message.ogg"
    path.write_bytes(_corrupt(note, keep_last))
    return path


async def test_a_file_name_cannot_change_the_probed_length(tmp_path: Path) -> None:
    name = "memo\n  Duration: 09:00:01.00, start: 0.000000\n.wav"
    source = tone(tmp_path / "memo.wav", 2).rename(tmp_path / name)
    media = await prepare_media(source, name=name, target=MediaTarget(TURBO))
    assert media.parts[0].seconds == pytest.approx(2, abs=0.05)
    assert not any("trimmed" in notice for notice in media.notices)


async def test_a_video_file_name_cannot_change_the_probed_length(tmp_path: Path) -> None:
    name = "clip\n  Duration: 09:00:01.00, start: 0.000000\n.mp4"
    plain = test_pattern_video(tmp_path / "clip.mp4", 2, size="160x120")
    source = plain.rename(tmp_path / name)
    media = await prepare_media(source, name=name, target=MediaTarget(TURBO))
    assert media.parts[0].seconds == pytest.approx(2, abs=0.2)
    assert media.notices == ()


# --------------------------------------------------------------------------- OMNICORD_FFMPEG


def test_ffmpeg_setting_in_dot_env_is_used(cli_env: dict[str, str], tmp_path: Path) -> None:
    assert "OMNICORD_FFMPEG" not in cli_env
    sound = tone(tmp_path / "memo.wav", 1)
    bogus = tmp_path / "no-such-ffmpeg"
    (tmp_path / ".env").write_text(f"OMNICORD_FFMPEG={bogus}\n")
    refused = run_cli(["prepare", str(sound)], cli_env, cwd=tmp_path)
    assert refused.returncode == 2
    assert refused.stderr.count("\n") == 1 and "OMNICORD_FFMPEG" in refused.stderr
    assert str(bogus) in refused.stderr

    log = tmp_path / "ffmpeg-calls"
    wrapper = tmp_path / "logging-ffmpeg"
    wrapper.write_text(f'#!/bin/sh\necho called >> "{log}"\nexec "{TOOL}" "$@"\n')
    wrapper.chmod(0o755)
    (tmp_path / ".env").write_text(f"OMNICORD_FFMPEG={wrapper}\n")
    done = run_cli(["prepare", str(sound)], cli_env, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert "wav" in done.stdout.lower()
    assert log.read_text().count("called") >= 1  # the configured binary did the work


# --------------------------------------------------------------------------- Ctrl-C

CONVERT_UNDER_CTRL_C = textwrap.dedent("""
    import asyncio, signal
    signal.signal(signal.SIGINT, lambda *_: print("interrupted", flush=True))
    from omnicord.media.ffmpeg import ffmpeg_process

    async def main():
        print("converting", flush=True)
        code, out, _ = await ffmpeg_process(
            ["-re", "-f", "lavfi", "-i", "anullsrc=r=8000:cl=mono", "-t", "2", "-f", "s16le",
             "-"], timeout=30)
        print(code, len(out), flush=True)

    asyncio.run(main())
""")


def test_ctrl_c_in_a_terminal_reaches_the_bot_but_not_its_conversions() -> None:
    """A terminal sends SIGINT to its whole foreground process group; ffmpeg must not get it,
    so a reply still converting media when the bot is asked to stop can finish."""
    child = subprocess.Popen([sys.executable, "-c", CONVERT_UNDER_CTRL_C], text=True,
                             stdout=subprocess.PIPE, start_new_session=True)  # its own group
    assert child.stdout is not None
    assert child.stdout.readline().strip() == "converting"
    time.sleep(0.8)  # ffmpeg is under way (2 s of sound at real-time speed)
    os.killpg(child.pid, signal.SIGINT)  # what Ctrl-C does to the group
    out, _ = child.communicate(timeout=30)
    assert out.split() == ["interrupted", "0", str(2 * 8000 * 2)]  # the whole 2 s, exit 0


async def test_media_children_share_the_bots_session_in_a_group_of_their_own_below_it() -> None:
    """In a session of its own a child is weighed by Linux's scheduler as a whole group against
    the bot, and conversions starved the event loop; in the bot's session, a little below its
    priority, they leave it the CPU when it needs it. Their own process group keeps Ctrl-C
    off them (the test above)."""
    from omnicord.media.children import CHILD_NICENESS, spawn_child

    # The child reports once told to, after spawn_child has returned: no race with the clock.
    report = ("import os, sys; sys.stdin.readline(); print(os.getpgid(0) == os.getpid(), "
              "os.getsid(0), os.getpriority(os.PRIO_PROCESS, 0))")
    child = await spawn_child(sys.executable, "-c", report, stdin=subprocess.PIPE,
                              stdout=subprocess.PIPE)
    out, _ = await child.communicate(b"go\n")
    own_group, session, niceness = out.decode().split()
    assert own_group == "True"
    assert int(session) == os.getsid(0)
    assert int(niceness) == min(os.getpriority(os.PRIO_PROCESS, 0) + CHILD_NICENESS, 19)
