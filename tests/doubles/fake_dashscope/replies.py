"""The fake DashScope's deterministic answers (an echo, a caption, a transcript, a translation)
and the ``chat.completion.chunk`` events that stream them, with real 24 kHz PCM for speech."""

from __future__ import annotations

import array
import base64
import json
import math
import re
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from tests.doubles.fake_dashscope.rules import (
    Analysis,
    ModelLimits,
    _asks_to_transcribe,
    text_tokens,
)

SAMPLE_RATE = 24_000
AUDIO_SECONDS_PER_CHAR = 0.06
MAX_AUDIO_SECONDS = 8.0
AUDIO_CHUNK_SECONDS = 0.2
TONE_HZ = 440.0
TONE_AMPLITUDE = 0.3
WORDS_PER_DELTA = 3


_TONE_CACHE: dict[int, bytes] = {}


def tone_pcm(samples: int) -> bytes:
    """``samples`` of a 440 Hz sine, int16 little-endian mono at 24 kHz."""
    if samples not in _TONE_CACHE:
        step = 2 * math.pi * TONE_HZ / SAMPLE_RATE
        amp = TONE_AMPLITUDE * 32767
        pcm = array.array("h", (int(amp * math.sin(step * i)) for i in range(samples)))
        if sys.byteorder == "big":
            pcm.byteswap()
        _TONE_CACHE[samples] = pcm.tobytes()
    return _TONE_CACHE[samples]


def split_words(text: str, per_piece: int = WORDS_PER_DELTA) -> list[str]:
    """Split ``text`` into pieces of a few words, keeping all whitespace."""
    words = re.findall(r"\s*\S+\s*", text) or ([text] if text else [])
    return ["".join(words[i:i + per_piece]) for i in range(0, len(words), per_piece)]


def _marker(instruction: str) -> str | None:
    found = re.search(r'answer with exactly "([^"]+)"', instruction)
    return found.group(1) if found else None


def _translation(analysis: Analysis) -> str | None:
    found = re.search(r"\btranslate\b.*?\binto ([^\W\d_][\w ()'-]*?)[.,:]",
                      analysis.system_text, re.IGNORECASE)
    if found is None:
        return None
    language = found.group(1).strip()
    if language.lower() == "english":
        return _marker(analysis.system_text) or analysis.last_user_text
    return f"[{language}] {analysis.last_user_text}"


def default_reply(analysis: Analysis) -> str:
    """The deterministic reply: a caption for the captioner; a transcript or a translation when
    asked for one; an echo otherwise."""
    if analysis.spec.family == "captioner":
        return (f"The audio contains a steady tone lasting about "
                f"{analysis.audio_seconds:.1f} seconds.")
    if _asks_to_transcribe(analysis):
        marker = _marker(analysis.last_user_text)
        if analysis.audio_silent and marker:
            return marker
        return f"Hello, this is a recording of {analysis.audio_seconds:.1f} seconds."
    translation = _translation(analysis)
    if translation is not None:
        return translation
    body = " ".join(p for p in (analysis.last_user_text, analysis.last_user_tag) if p)
    return f"Echo: {body}"


def reasoning_for(analysis: Analysis) -> str:
    """The deterministic chain of thought streamed in thinking mode."""
    return f"The user wrote: {analysis.last_user_text or 'nothing'}. I will echo it back."


@dataclass
class _Plan:
    model: str
    reply: str
    reasoning: str
    audio_samples: int
    include_usage: bool
    analysis: Analysis
    finish: str = "stop"  # "length" when the reply was cut at the output limit
    chunk_id: str = field(default_factory=lambda: f"chatcmpl-{uuid.uuid4()}")
    created: int = field(default_factory=lambda: int(time.time()))


def _envelope(plan: _Plan, choices: list[dict[str, Any]], usage: Any = None) -> dict[str, Any]:
    return {"choices": choices, "object": "chat.completion.chunk", "usage": usage,
            "created": plan.created, "system_fingerprint": None, "model": plan.model,
            "id": plan.chunk_id}


def _delta(plan: _Plan, delta: dict[str, Any], finish: str | None = None) -> dict[str, Any]:
    choice = {"delta": delta, "finish_reason": finish, "index": 0, "logprobs": None}
    return _envelope(plan, [choice])


def _usage(plan: _Plan) -> dict[str, Any]:
    a = plan.analysis
    completion: dict[str, int] = {"text_tokens": text_tokens(plan.reply)}
    if plan.audio_samples:
        completion["audio_tokens"] = math.ceil(plan.audio_samples / SAMPLE_RATE * 12.5)
    if plan.reasoning:
        completion["reasoning_tokens"] = text_tokens(plan.reasoning)
    prompt = {"text_tokens": a.text_tokens}
    for key in ("image_tokens", "audio_tokens", "video_tokens"):
        if getattr(a, key):
            prompt[key] = getattr(a, key)
    total_out = sum(completion.values())
    return {"prompt_tokens": a.prompt_tokens, "completion_tokens": total_out,
            "total_tokens": a.prompt_tokens + total_out,
            "completion_tokens_details": completion, "prompt_tokens_details": prompt}


def _audio_deltas(plan: _Plan) -> list[dict[str, Any]]:
    pcm = tone_pcm(plan.audio_samples)
    step = int(AUDIO_CHUNK_SECONDS * SAMPLE_RATE) * 2
    audio_id = f"audio_{uuid.uuid4()}"
    return [{"audio": {"data": base64.b64encode(pcm[i:i + step]).decode("ascii"),
                       "expires_at": plan.created, "id": audio_id}}
            for i in range(0, len(pcm), step)]


def output_limit(body: dict[str, Any], spec: ModelLimits) -> int:
    """Tokens the reply may have: the request's ``max_tokens``, else the model's maximum."""
    asked = body.get("max_tokens") or body.get("max_completion_tokens")
    return min(asked, spec.max_output) if isinstance(asked, int) else spec.max_output


def cut_at_output_limit(reply: str, limit: int) -> tuple[str, str]:
    """The reply as the model would end it, and its finish reason (``length`` when cut)."""
    if text_tokens(reply) <= limit:
        return reply, "stop"
    return reply[:(limit - 1) * 3], "length"


def stream_chunks(plan: _Plan) -> Iterator[dict[str, Any]]:
    """Every ``data:`` event of one streamed reply, in order (``[DONE]`` excluded)."""
    if plan.reasoning:
        yield _delta(plan, {"content": None, "role": "assistant", "reasoning_content": ""})
        for piece in split_words(plan.reasoning):
            yield _delta(plan, {"content": None, "reasoning_content": piece})
    else:
        yield _delta(plan, {"role": "assistant", "content": ""})
    texts = [{"content": piece} for piece in split_words(plan.reply)]
    audios = _audio_deltas(plan) if plan.audio_samples else []
    for i in range(max(len(texts), len(audios))):
        if i < len(texts):
            yield _delta(plan, texts[i])
        if i < len(audios):
            yield _delta(plan, audios[i])
    if audios:
        yield _delta(plan, {"audio": {"transcript": plan.reply}})
        yield _delta(plan, {"audio": {"transcript": ""}}, finish=plan.finish)
    elif plan.reasoning:
        yield _delta(plan, {"content": "", "reasoning_content": None}, finish=plan.finish)
    else:
        yield _delta(plan, {"content": ""}, finish=plan.finish)
    if plan.include_usage:
        yield _envelope(plan, [], _usage(plan))


def completion_body(plan: _Plan) -> dict[str, Any]:
    """A non-streamed ``chat.completion`` body (the captioner allows those)."""
    message = {"content": plan.reply, "role": "assistant"}
    choice = {"message": message, "finish_reason": plan.finish, "index": 0, "logprobs": None}
    return {"choices": [choice], "object": "chat.completion", "usage": _usage(plan),
            "created": plan.created, "system_fingerprint": None, "model": plan.model,
            "id": plan.chunk_id}


def _sse(payload: dict[str, Any]) -> bytes:
    return b"data: " + json.dumps(payload, ensure_ascii=False).encode("utf-8") + b"\n\n"


# --------------------------------------------------------------------------- the server
