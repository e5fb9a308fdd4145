"""``omnicord talk``: one spoken turn with a realtime model, from a file: the answer's words
on stdout as they stream, its speech in a WAV file."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from omnicord.cli.output import EXIT_OK, note

if TYPE_CHECKING:
    from omnicord.model.catalog import RealtimeModelSpec
    from omnicord.realtime.client import RealtimeSession
    from omnicord.settings import Settings

NEEDS_MEDIA = True
#: The file is streamed this many times faster than it plays (100 ms appends).
SPEED = 4.0
#: Silence sent after the file, beyond the VAD's silence window, so the turn surely ends.
TRAILING_MARGIN = 0.5
#: Once the turn is answered and nothing else is under way, wait this long for a straggler
#: (a turn the VAD ended just as the file did) before finishing.
SETTLE = 1.0
#: The longest file streamed (a realtime session's turn, not a recording to transcribe).
MAX_SECONDS = 10 * 60
_INPUT_RATE = 16_000
_BYTES_PER_SECOND = _INPUT_RATE * 2


def add_arguments(commands: argparse._SubParsersAction) -> None:
    """``omnicord talk``."""
    talk = commands.add_parser(
        "talk", help="speak to a realtime model with an audio file and hear its answer",
        description="Stream an audio file (anything ffmpeg reads, up to 10 minutes) to a "
        "realtime model (OMNICORD_REALTIME_MODEL at OMNICORD_REALTIME_URL) as a live "
        "speaker would, print the answer's words as they arrive and write its speech to a "
        "WAV file.",
    )
    talk.add_argument("file", type=Path, metavar="FILE", help="the audio (or video) file")
    talk.add_argument("--voice", "-v", metavar="NAME",
                      help="answer voice (default: OMNICORD_TALK_VOICE, else the model's "
                      "default)")
    talk.add_argument("--out", "-o", type=Path, metavar="PATH",
                      help="where to write the spoken answer (default: FILE's name with "
                      ".answer.wav, beside FILE)")
    talk.add_argument("--model", "-m",
                      help="realtime model (default: OMNICORD_REALTIME_MODEL)")
    talk.add_argument("--instructions", "-i", metavar="TEXT",
                      help="instructions for the model (a system prompt)")


def answer_path(file: Path, out: Path | None) -> Path:
    """Where the spoken answer goes: ``--out``, else beside FILE as NAME.answer.wav."""
    return out if out is not None else file.with_name(f"{file.stem}.answer.wav")


async def run(args: argparse.Namespace, settings: Settings) -> int:
    """Talk one turn; exit 0 once it is answered."""
    from omnicord import build
    from omnicord.model.catalog import find_realtime_model
    from omnicord.realtime.client import SessionOptions, VadSettings

    model = find_realtime_model(args.model or settings.realtime_model)
    voice = _voice(args.voice, settings, model)
    out = answer_path(args.file, args.out)
    settings.require_api_key()
    pcm = await _decode(args.file, settings)
    vad = VadSettings()
    options = SessionOptions(model=(args.model or settings.realtime_model).strip(),
                             voice=voice, instructions=args.instructions or "", vad=vad)
    client = build.realtime_client(settings)
    try:
        async with await client.open(options) as session:
            trailing = vad.silence_ms / 1000 + TRAILING_MARGIN
            answer = await _turn(session, pcm, trailing, settings.request_timeout)
    finally:
        await client.aclose()
    print(flush=True)
    if not answer:
        note("the answer had no speech; nothing written")
        return EXIT_OK
    await _write_wav(out, answer, session.output_rate)
    seconds = len(answer) / (session.output_rate * 2)
    note(f"answer spoken to {out} ({seconds:.1f} s at {session.output_rate} Hz)")
    return EXIT_OK


def _voice(given: str | None, settings: Settings, model: RealtimeModelSpec) -> str:
    """The voice to answer in, checked against ``model`` (InputError naming the choices)."""
    if given is not None:
        return model.require_voice(given).name
    if settings.talk_voice is not None and model.find_voice(settings.talk_voice):
        return model.require_voice(settings.talk_voice).name
    return model.default_voice


async def _decode(file: Path, settings: Settings) -> bytes:
    """FILE as PCM16 16 kHz mono, at most MAX_SECONDS; InputError for what ffmpeg cannot
    read or a file without sound."""
    import asyncio
    import stat

    from omnicord.errors import InputError
    from omnicord.media.ffmpeg import run_ffmpeg

    try:
        info = await asyncio.to_thread(file.stat)
    except OSError:
        raise InputError(f"{file}: no such file") from None
    if not stat.S_ISREG(info.st_mode):
        raise InputError(f"{file}: not a file")
    if info.st_size > settings.max_input_mb * 1024 * 1024:
        raise InputError(f"{file.name}: larger than OMNICORD_MAX_INPUT_MB "
                         f"({settings.max_input_mb} MB)")
    pcm = await run_ffmpeg(
        ["-i", f"file:{file}", "-vn", "-t", str(MAX_SECONDS), "-ac", "1",
         "-ar", str(_INPUT_RATE), "-f", "s16le", "-c:a", "pcm_s16le", "pipe:1"],
        timeout=300.0, failure=f"{file.name}: the audio could not be read; it may be damaged")
    if len(pcm) < _BYTES_PER_SECOND // 10:
        raise InputError(f"{file.name}: no sound to talk with")
    return pcm


async def _turn(session: RealtimeSession, pcm: bytes, trailing: float,
                timeout: float) -> bytes:
    """Stream ``pcm`` and its trailing silence while printing the answer; its speech."""
    import asyncio

    from omnicord.errors import UpstreamUnavailable
    from omnicord.realtime.events import (
        AnswerDone,
        AnswerStarted,
        AudioDelta,
        InputTranscript,
        RealtimeEvent,
        SpeechStarted,
        SpeechStopped,
        TranscriptDelta,
    )

    speech = bytearray()
    answered = 0
    speaking = pending = False

    async def stream() -> None:
        audio = pcm + bytes(2 * round(trailing * _INPUT_RATE))
        step = _BYTES_PER_SECOND // 10
        for start in range(0, len(audio), step):
            await session.append(audio[start:start + step])
            await asyncio.sleep(0.1 / SPEED)

    sender = asyncio.create_task(stream())
    loop = asyncio.get_running_loop()
    deadline = loop.time() + len(pcm) / _BYTES_PER_SECOND / SPEED + trailing + timeout
    events = aiter(session.events())
    upcoming: asyncio.Future[RealtimeEvent] | None = None
    try:
        while True:
            if sender.done():
                await sender  # an append failed: its error
            quiet = answered and sender.done() and not (speaking or pending
                                                        or session.responding)
            if upcoming is None:
                upcoming = asyncio.ensure_future(anext(events))
            wait_until = min(deadline, loop.time() + SETTLE) if quiet else deadline
            waiting: set[asyncio.Future[Any]] = {upcoming}
            if not sender.done():
                waiting.add(sender)
            done, _ = await asyncio.wait(waiting, timeout=max(0.0, wait_until - loop.time()),
                                         return_when=asyncio.FIRST_COMPLETED)
            if upcoming not in done:
                if done:  # the sender finished (or failed): look again
                    continue
                if quiet and loop.time() < deadline:
                    return bytes(speech)
                raise UpstreamUnavailable(f"The realtime model did not answer within "
                                          f"{timeout:.0f} s of the end of the file")
            try:
                event = upcoming.result()
            except StopAsyncIteration:
                raise UpstreamUnavailable("The realtime session ended without an answer"
                                          ) from None
            upcoming = None
            if isinstance(event, SpeechStarted):
                speaking = True
            elif isinstance(event, SpeechStopped):
                speaking, pending = False, True
            elif isinstance(event, InputTranscript) and event.text:
                note(f"heard: {event.text}")
            elif isinstance(event, AnswerStarted):
                pending = False
                if answered:
                    print(flush=True)
            elif isinstance(event, TranscriptDelta):
                sys.stdout.write(event.text)
                sys.stdout.flush()
            elif isinstance(event, AudioDelta):
                speech.extend(event.pcm)
            elif isinstance(event, AnswerDone):
                if event.status != "completed":
                    raise UpstreamUnavailable(f"The realtime model's answer ended "
                                              f"{event.status}; try again")
                answered += 1
    finally:
        for task in (sender, upcoming):
            if task is not None:
                task.cancel()
        await asyncio.gather(*(t for t in (sender, upcoming) if t is not None),
                             return_exceptions=True)


async def _write_wav(path: Path, pcm: bytes, rate: int) -> None:
    """``pcm`` (PCM16 mono at ``rate``) as a WAV file at ``path``."""
    import asyncio

    from omnicord.errors import InputError
    from omnicord.media.speech import pcm_to_wav

    try:
        await asyncio.to_thread(path.write_bytes, pcm_to_wav(pcm, rate))
    except OSError as error:
        raise InputError(f"cannot write {path}: {error.strerror or error}") from None
