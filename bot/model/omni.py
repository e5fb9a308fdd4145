"""Streaming client for Qwen-Omni chat models.

``OmniClient.stream`` checks a request against the API's rules, sends it (always streaming, with
usage), and turns the chunks into typed events from ``omnicord.model.events``.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import AsyncIterator, Mapping
from typing import Any

import openai
from omnicord.errors import StreamCutOff
from omnicord.model.catalog import SPEECH_CHANNELS, SPEECH_SAMPLE_WIDTH
from omnicord.model.events import (
    AudioChunk,
    Finished,
    ReasoningDelta,
    ReplyEvent,
    TextDelta,
    Transcript,
    Usage,
)
from omnicord.model.rules import ChatRequest, check_chat_request
from omnicord.model.upstream import (
    TOTAL_TIMEOUT_FACTOR,
    Pace,
    make_client,
    stream_chunks,
    unpaced,
    unreadable_reply,
)


class Base64PcmAssembler:
    """Decodes base64 audio fragments that may split anywhere, yielding whole PCM samples."""

    def __init__(self, frame_bytes: int = SPEECH_SAMPLE_WIDTH * SPEECH_CHANNELS) -> None:
        self._frame_bytes = frame_bytes
        self._text = ""
        self._pcm = b""

    def feed(self, fragment: str) -> bytes:
        """Add a fragment; return the PCM that is complete so far (possibly empty)."""
        self._text += "".join(fragment.split())
        usable = len(self._text) - len(self._text) % 4
        if usable:
            try:
                self._pcm += base64.b64decode(self._text[:usable], validate=True)
            except binascii.Error as error:
                raise StreamCutOff("The model sent speech that could not be decoded") from error
            self._text = self._text[usable:]
        whole = len(self._pcm) - len(self._pcm) % self._frame_bytes
        ready, self._pcm = self._pcm[:whole], self._pcm[whole:]
        return ready

    @property
    def leftover(self) -> int:
        """Undecoded characters plus bytes of an incomplete sample still held back."""
        return len(self._text) + len(self._pcm)


def build_payload(request: ChatRequest) -> dict[str, Any]:
    """The keyword arguments for ``chat.completions.create`` (streaming, with usage)."""
    payload: dict[str, Any] = {
        "model": request.model,
        "messages": request.messages,
        "stream": True,
        "stream_options": {"include_usage": True},
        "modalities": ["text", "audio"] if request.voice else ["text"],
    }
    if request.voice:
        payload["audio"] = {"voice": request.voice, "format": "wav"}
    if request.max_tokens:
        payload["max_tokens"] = request.max_tokens
    extra_body = dict(request.extra)
    if request.thinking:
        extra_body["enable_thinking"] = True
    if extra_body:
        payload["extra_body"] = extra_body
    return payload


def _field(obj: Any, name: str) -> Any:
    """Read ``name`` from an SDK object, its extra fields, or a dict: shapes vary by release."""
    if obj is None:
        return None
    if isinstance(obj, Mapping):
        return obj.get(name)
    value = getattr(obj, name, None)
    if value is None:
        extra = getattr(obj, "model_extra", None) or {}
        value = extra.get(name)
    return value


def delta_events(delta: Any, pcm: Base64PcmAssembler) -> list[ReplyEvent]:
    """Events carried by one chunk's ``delta``."""
    events: list[ReplyEvent] = []
    reasoning = _field(delta, "reasoning_content")
    if reasoning:
        events.append(ReasoningDelta(reasoning))
    content = _field(delta, "content")
    if content:
        events.append(TextDelta(content))
    audio = _field(delta, "audio")
    if audio is not None:
        data = _field(audio, "data")
        if data:
            samples = pcm.feed(data)
            if samples:
                events.append(AudioChunk(samples))
        transcript = _field(audio, "transcript")
        if transcript:
            events.append(Transcript(transcript))
    return events


class OmniClient:
    """Talks to a Qwen-Omni chat model over the OpenAI-compatible API."""

    def __init__(
        self,
        api_key: str,
        base_url: str,
        *,
        timeout: float = 120.0,
        max_retries: int = 2,
        client: openai.AsyncOpenAI | None = None,
        pace: Pace = unpaced,
    ) -> None:
        self._client = client or make_client(
            api_key, base_url, timeout=timeout, max_retries=max_retries
        )
        self.total_timeout = timeout * TOTAL_TIMEOUT_FACTOR
        self._pace = pace  # awaited before each request: the bot-wide request rate

    async def aclose(self) -> None:
        """Close the HTTP connections."""
        await self._client.close()

    async def stream(self, request: ChatRequest) -> AsyncIterator[ReplyEvent]:
        """Send ``request`` and yield its reply as events, ending with ``Finished``.

        Raises RequestRefused before sending anything the API would refuse, and an
        UpstreamError subclass when the service fails or the stream breaks.
        """
        check_chat_request(request)
        payload = build_payload(request)
        await self._pace()
        chunks = stream_chunks(lambda: self._client.chat.completions.create(**payload),
                               model=request.model, total_timeout=self.total_timeout)
        try:
            async for event in _events(chunks):
                yield event
        except ValueError as error:  # audio that is not base64 PCM
            raise unreadable_reply() from error


async def _events(stream: Any) -> AsyncIterator[ReplyEvent]:
    pcm = Base64PcmAssembler()
    finish_reason: str | None = None
    async for chunk in stream:
        if getattr(chunk, "usage", None):
            yield Usage.from_payload(chunk.usage)
        for choice in (chunk.choices or [])[:1]:
            for event in delta_events(choice.delta, pcm):
                yield event
            finish_reason = choice.finish_reason or finish_reason
    if finish_reason is None:
        raise StreamCutOff("The reply was cut off before the model finished; ask again")
    yield Finished(finish_reason)
