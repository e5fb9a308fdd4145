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

- ``server.py``: ``FakeDashScope``, the aiohttp app and its thread, and ``Fault``.
- ``rules.py``: the limits table (``MODELS``), the API rules ``analyze`` enforces, token
  estimates, ``Rejection`` and ``error_body``.
- ``media.py``: decoding with Pillow (``image_size``) and ffmpeg (``probe_media``,
  ``audio_peak_db``), and ``sniff_audio``.
- ``replies.py``: the deterministic answers and the stream of chunks that carries them.
"""

from tests.doubles.fake_dashscope.media import (
    MediaError,
    MediaProbe,
    audio_peak_db,
    image_size,
    probe_media,
    sniff_audio,
)
from tests.doubles.fake_dashscope.replies import (
    SAMPLE_RATE,
    default_reply,
)
from tests.doubles.fake_dashscope.rules import (
    API_PREFIX,
    CAPTIONER,
    FLASH,
    MAX_BODY_BYTES,
    MAX_DATA_URI_BYTES,
    MODELS,
    SEVEN_B,
    TURBO,
    Analysis,
    ModelLimits,
    Rejection,
    analyze,
    audio_tokens,
    error_body,
    image_tokens,
    text_tokens,
    video_tokens,
)
from tests.doubles.fake_dashscope.server import (
    FakeDashScope,
    Fault,
)

__all__ = [
    "API_PREFIX",
    "CAPTIONER",
    "FLASH",
    "MAX_BODY_BYTES",
    "MAX_DATA_URI_BYTES",
    "MODELS",
    "SAMPLE_RATE",
    "SEVEN_B",
    "TURBO",
    "Analysis",
    "FakeDashScope",
    "Fault",
    "MediaError",
    "MediaProbe",
    "ModelLimits",
    "Rejection",
    "analyze",
    "audio_peak_db",
    "audio_tokens",
    "default_reply",
    "error_body",
    "image_size",
    "image_tokens",
    "probe_media",
    "sniff_audio",
    "text_tokens",
    "video_tokens",
]
