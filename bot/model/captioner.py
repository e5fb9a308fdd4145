"""Client for Qwen3-Omni-Captioner: one audio file in, an English description out.

The captioner takes a single user message holding exactly one ``input_audio`` part: no text,
no system message, no history. Streaming is optional; both forms are supported.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import openai
from omnicord.errors import RequestRefused, StreamCutOff
from omnicord.model.catalog import ModelSpec, find_model
from omnicord.model.events import Finished, TextDelta, Usage
from omnicord.model.parts import Part
from omnicord.model.upstream import (
    SDK_ERRORS,
    TOTAL_TIMEOUT_FACTOR,
    Pace,
    make_client,
    map_sdk_error,
    stream_chunks,
    unpaced,
)

CaptionEvent = TextDelta | Usage | Finished


@dataclass(frozen=True)
class Caption:
    """A finished caption and what it cost."""

    text: str
    usage: Usage | None


def caption_messages(model: ModelSpec, audio: Part) -> list[dict[str, Any]]:
    """The only message shape the captioner accepts, after checking the audio part."""
    if audio.get("type") != "input_audio":
        raise RequestRefused("The captioner takes exactly one audio file")
    audio_format = str(audio["input_audio"].get("format", "")).lower()
    if audio_format not in model.audio.formats:
        raise RequestRefused(
            f"The captioner does not take {audio_format or 'unlabelled'} audio "
            f"(it takes {', '.join(model.audio.formats)})"
        )
    return [{"role": "user", "content": [audio]}]


class CaptionerClient:
    """Captions audio with Qwen3-Omni-Captioner over the OpenAI-compatible API."""

    def __init__(
        self,
        api_key: str,
        base_url: str,
        *,
        model: str = "qwen3-omni-30b-a3b-captioner",
        timeout: float = 120.0,
        max_retries: int = 2,
        client: openai.AsyncOpenAI | None = None,
        pace: Pace = unpaced,
    ) -> None:
        self.model = find_model(model, "captioner")
        self._model_name = model
        self._client = client or make_client(
            api_key, base_url, timeout=timeout, max_retries=max_retries
        )
        self.total_timeout = timeout * TOTAL_TIMEOUT_FACTOR
        self._pace = pace  # awaited before each request: the bot-wide request rate

    async def aclose(self) -> None:
        """Close the HTTP connections."""
        await self._client.close()

    def _payload(self, audio: Part) -> dict[str, Any]:
        """The request's keyword arguments (a plain dict, as the API takes DashScope parts)."""
        return {"model": self._model_name, "messages": caption_messages(self.model, audio)}

    async def stream(self, audio: Part) -> AsyncIterator[CaptionEvent]:
        """Stream the caption of one audio part as text deltas, usage, then ``Finished``."""
        payload = self._payload(audio) | {"stream": True,
                                          "stream_options": {"include_usage": True}}
        finish_reason: str | None = None
        await self._pace()
        chunks = stream_chunks(lambda: self._client.chat.completions.create(**payload),
                               model=self._model_name, total_timeout=self.total_timeout)
        async for chunk in chunks:
            if getattr(chunk, "usage", None):
                yield Usage.from_payload(chunk.usage)
            for choice in (chunk.choices or [])[:1]:
                if choice.delta.content:
                    yield TextDelta(choice.delta.content)
                finish_reason = choice.finish_reason or finish_reason
        if finish_reason is None:
            raise StreamCutOff("The caption was cut off before the model finished; try again")
        yield Finished(finish_reason)

    async def caption(self, audio: Part, *, stream: bool = True) -> Caption:
        """The whole caption of one audio part, streamed or in one response."""
        if stream:
            pieces: list[str] = []
            usage: Usage | None = None
            async for event in self.stream(audio):
                if isinstance(event, TextDelta):
                    pieces.append(event.text)
                elif isinstance(event, Usage):
                    usage = event
            return Caption("".join(pieces).strip(), usage)
        await self._pace()
        try:
            response = await self._client.chat.completions.create(**self._payload(audio))
        except SDK_ERRORS as error:
            raise map_sdk_error(error, model=self._model_name) from error
        text = (response.choices[0].message.content or "").strip() if response.choices else ""
        usage = Usage.from_payload(response.usage) if response.usage else None
        return Caption(text, usage)
