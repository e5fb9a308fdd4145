"""The streaming Omni client against the offline DashScope server."""

from __future__ import annotations

import base64
from types import SimpleNamespace

import pytest
from omnicord.conversation.reply import Reply
from omnicord.errors import (
    AuthenticationFailed,
    BadRequest,
    ContentBlocked,
    ModelNotAvailable,
    RateLimited,
    RequestRefused,
    StreamCutOff,
    UpstreamUnavailable,
)
from omnicord.model.events import AudioChunk, Finished, ReasoningDelta, TextDelta, Transcript, Usage
from omnicord.model.omni import Base64PcmAssembler, OmniClient, delta_events
from omnicord.model.parts import audio_part, image_part, text_part
from omnicord.model.rules import ChatRequest

from tests.doubles.fake_dashscope import FakeDashScope, Fault


def client_for(server: FakeDashScope, **kwargs: float) -> OmniClient:
    return OmniClient(server.api_key, server.base_url, max_retries=0, **kwargs)


def user(text: str, *parts: dict) -> dict:
    return {"role": "user", "content": [*parts, text_part(text)]}


async def collect(client: OmniClient, request: ChatRequest) -> tuple[list, Reply]:
    reply = Reply()
    events = []
    async for event in client.stream(request):
        reply.add(event)
        events.append(event)
    await client.aclose()
    return events, reply


async def test_text_stream_yields_deltas_usage_and_finish(dashscope: FakeDashScope) -> None:
    events, reply = await collect(
        client_for(dashscope),
        ChatRequest("qwen3-omni-flash", [user("hello there, how are you today")]),
    )
    assert reply.text == "Echo: hello there, how are you today"
    assert sum(isinstance(e, TextDelta) for e in events) >= 2
    assert isinstance(events[-1], Finished) and events[-1].reason == "stop"
    usage = next(e for e in events if isinstance(e, Usage))
    assert usage.total_tokens == usage.prompt_tokens + usage.completion_tokens > 0
    sent = dashscope.accepted[0]
    assert sent["stream"] is True
    assert sent["stream_options"] == {"include_usage": True}
    assert sent["modalities"] == ["text"]
    assert "audio" not in sent


async def test_speech_stream_reassembles_pcm_and_transcript(dashscope: FakeDashScope) -> None:
    events, reply = await collect(
        client_for(dashscope),
        ChatRequest("qwen3-omni-flash", [user("say something")], voice="Ethan"),
    )
    assert dashscope.accepted[0]["audio"] == {"voice": "Ethan", "format": "wav"}
    assert dashscope.accepted[0]["modalities"] == ["text", "audio"]
    expected = FakeDashScope.expected_audio_seconds(reply.text)
    assert len(reply.pcm) == round(expected * 24_000) * 2
    assert sum(isinstance(e, AudioChunk) for e in events) > 1
    assert all(len(e.pcm) % 2 == 0 for e in events if isinstance(e, AudioChunk))
    assert [e.text for e in events if isinstance(e, Transcript)] == [reply.text]


async def test_thinking_streams_reasoning_before_text(dashscope: FakeDashScope) -> None:
    events, reply = await collect(
        client_for(dashscope), ChatRequest("qwen3-omni-flash", [user("why?")], thinking=True)
    )
    kinds = [type(e) for e in events]
    assert ReasoningDelta in kinds
    assert kinds.index(ReasoningDelta) < kinds.index(TextDelta)
    assert reply.reasoning and reply.text
    assert dashscope.accepted[0]["enable_thinking"] is True


async def test_snapshot_alias_is_sent_as_given(dashscope: FakeDashScope) -> None:
    await collect(client_for(dashscope), ChatRequest("qwen3-omni-flash-0915", [user("hi")]))
    assert dashscope.accepted[0]["model"] == "qwen3-omni-flash-0915"


TINY_PNG = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAABAAAAAQCAIAAACQkWg2AAAAFklEQVR4nGP8z0AaYBxVP6p+VP3Q"
    "UQ8AXh0BH+1Kf2sAAAAASUVORK5CYII="
)


@pytest.mark.parametrize(
    ("request_", "reason"),
    [
        (ChatRequest("gpt-4o", [user("hi")]), "Unknown chat model"),
        (ChatRequest("qwen3-omni-30b-a3b-captioner", [user("hi")]), "Unknown chat model"),
        (ChatRequest("qwen3-omni-flash", [user("hi")], voice="Serena"), "has no voice"),
        (ChatRequest("qwen-omni-turbo", [user("hi")], voice="Nofish"), "has no voice"),
        (ChatRequest("qwen3-omni-flash", [user("hi")], voice="Cherry", thinking=True),
         "text only"),
        (ChatRequest("qwen-omni-turbo", [user("hi")], thinking=True), "no thinking mode"),
        (ChatRequest("qwen-omni-turbo",
                     [{"role": "system", "content": "be nice"}, user("hi")], voice="Cherry"),
         "no system message"),
        (ChatRequest("qwen3-omni-flash",
                     [user("hi", image_part(TINY_PNG, "image/png"),
                           audio_part(b"RIFF....WAVE", "wav"))]),
         "one kind of media"),
        (ChatRequest("qwen3-omni-flash",
                     [user("hi"), {"role": "assistant",
                                   "content": [image_part(TINY_PNG, "image/png")]},
                      user("again")]),
         "text only"),
        (ChatRequest("qwen3-omni-flash", [user("hi"), {"role": "assistant", "content": "x"}]),
         "end with a user message"),
    ],
)
async def test_refusals_send_nothing(
    dashscope: FakeDashScope, request_: ChatRequest, reason: str
) -> None:
    with pytest.raises(RequestRefused, match=reason):
        await collect(client_for(dashscope), request_)
    assert dashscope.requests == []


async def test_refused_request_would_also_be_rejected_upstream(dashscope: FakeDashScope) -> None:
    """The fake enforces the same rule independently: our refusal matches the API."""
    import openai

    raw = openai.AsyncOpenAI(api_key=dashscope.api_key, base_url=dashscope.base_url,
                             max_retries=0)
    with pytest.raises(openai.BadRequestError):
        await raw.chat.completions.create(
            model="qwen3-omni-flash", messages=[user("hi")], stream=True,
            modalities=["text", "audio"], audio={"voice": "Cherry", "format": "wav"},
            extra_body={"enable_thinking": True},
        )
    await raw.close()


@pytest.mark.parametrize(
    ("fault", "error", "words"),
    [
        (Fault(status=401), AuthenticationFailed, "API key"),
        (Fault(status=403, code="AccessDenied", message="Access denied."),
         AuthenticationFailed, "API key"),
        (Fault(status=404), ModelNotAvailable, "does not offer"),
        (Fault(status=429), RateLimited, "try again"),
        (Fault(status=500), UpstreamUnavailable, "HTTP 500"),
        (Fault(status=503), UpstreamUnavailable, "HTTP 503"),
        (Fault(status=400, code="InvalidParameter", message="Something specific is wrong."),
         BadRequest, "Something specific is wrong"),
        (Fault(status=400, code="DataInspectionFailed", message="Input data may contain"),
         ContentBlocked, "content filter"),
        (Fault(cut_after_chunks=3), StreamCutOff, "cut off"),
        (Fault(error_event=True), ContentBlocked, "content filter"),
    ],
)
async def test_upstream_failures_become_clear_errors(
    dashscope: FakeDashScope, fault: Fault, error: type, words: str
) -> None:
    dashscope.add_fault(fault)
    with pytest.raises(error, match=words) as caught:
        await collect(client_for(dashscope), ChatRequest("qwen3-omni-flash", [user("hi")]))
    assert dashscope.api_key not in str(caught.value)


async def test_slow_first_token_times_out_as_unavailable(dashscope: FakeDashScope) -> None:
    dashscope.add_fault(Fault(first_token_delay=30.0))  # far past the 0.5 s timeout
    with pytest.raises(UpstreamUnavailable, match="timed out"):
        await collect(client_for(dashscope, timeout=0.5),
                      ChatRequest("qwen3-omni-flash", [user("hi")]))


async def test_transient_429_is_retried_by_the_sdk(dashscope: FakeDashScope) -> None:
    dashscope.add_fault(Fault(status=429, times=1))
    client = OmniClient(dashscope.api_key, dashscope.base_url, max_retries=1)
    _, reply = await collect(client, ChatRequest("qwen3-omni-flash", [user("hi")]))
    assert reply.text == "Echo: hi"
    assert len(dashscope.requests) == 2


def test_base64_fragments_split_anywhere_still_decode() -> None:
    pcm = bytes(range(256)) * 10
    encoded = base64.b64encode(pcm).decode()
    assembler = Base64PcmAssembler()
    out = b""
    for start in range(0, len(encoded), 7):  # 7 is deliberately not a multiple of 4
        chunk = assembler.feed(encoded[start:start + 7])
        assert len(chunk) % 2 == 0
        out += chunk
    assert out == pcm
    assert assembler.leftover == 0


@pytest.mark.parametrize("shape", ["typed", "dict", "extra"])
def test_delta_audio_read_in_every_sdk_shape(shape: str) -> None:
    payload = {"data": base64.b64encode(b"\x01\x00\x02\x00").decode(), "transcript": "hi"}
    if shape == "typed":
        delta = SimpleNamespace(content=None, reasoning_content=None,
                                audio=SimpleNamespace(**payload))
    elif shape == "dict":
        delta = SimpleNamespace(content=None, reasoning_content=None, audio=payload)
    else:  # older SDKs: unknown fields live in model_extra
        delta = SimpleNamespace(content=None, model_extra={"audio": payload,
                                                           "reasoning_content": "hmm"})
    events = delta_events(delta, Base64PcmAssembler())
    assert AudioChunk(b"\x01\x00\x02\x00") in events
    assert Transcript("hi") in events
    if shape == "extra":
        assert ReasoningDelta("hmm") in events
