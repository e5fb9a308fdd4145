"""Tests of the offline DashScope test double (``tests/doubles/fake_dashscope/``).

They drive it with the real ``openai`` client (``max_retries=0``) and with plain urllib posts
for malformed requests. Media is made on the spot with Pillow, ``wave`` and ffmpeg.
"""

from __future__ import annotations

import base64
import functools
import io
import json
import math
import os
import subprocess
import tempfile
import time
import urllib.error
import urllib.request
import wave
from collections.abc import Iterator
from typing import Any

import imageio_ffmpeg
import openai
import pytest
from openai import OpenAI
from PIL import Image

try:
    from tests.doubles.fake_dashscope import MAX_BODY_BYTES, SAMPLE_RATE, FakeDashScope, Fault
except ImportError:  # tests/ is not a package: pytest put it on sys.path itself
    from fake_dashscope import MAX_BODY_BYTES, SAMPLE_RATE, FakeDashScope, Fault

FLASH = "qwen3-omni-flash"
TURBO = "qwen-omni-turbo"
SEVEN_B = "qwen2.5-omni-7b"
CAPTIONER = "qwen3-omni-30b-a3b-captioner"
AUDIO_OUT: dict[str, Any] = {"modalities": ["text", "audio"],
                             "audio": {"voice": "Cherry", "format": "wav"}}


# --------------------------------------------------------------------------- fixtures


@pytest.fixture(scope="session")
def server() -> Iterator[FakeDashScope]:
    with FakeDashScope() as fake:
        yield fake


@pytest.fixture
def fake(server: FakeDashScope) -> FakeDashScope:
    server.reset()
    return server


@pytest.fixture
def client(fake: FakeDashScope) -> OpenAI:
    return OpenAI(api_key=fake.api_key, base_url=fake.base_url, max_retries=0, timeout=30)


# --------------------------------------------------------------------------- media makers


def png(width: int, height: int) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (width, height), (200, 30, 30)).save(buf, format="PNG")
    return buf.getvalue()


@functools.lru_cache
def wav(seconds: float, rate: int = 8000) -> bytes:
    buf = io.BytesIO()
    with wave.open(buf, "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(rate)
        out.writeframes(b"\x00\x00" * int(seconds * rate))
    return buf.getvalue()


@functools.lru_cache
def ffmpeg_make(lavfi: str, suffix: str, *codec: str) -> bytes:
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, f"out{suffix}")
        cmd = [imageio_ffmpeg.get_ffmpeg_exe(), "-hide_banner", "-loglevel", "error", "-y",
               "-f", "lavfi", "-i", lavfi, *codec, path]
        subprocess.run(cmd, check=True, capture_output=True)
        with open(path, "rb") as handle:
            return handle.read()


def mp3(seconds: float) -> bytes:
    return ffmpeg_make(f"sine=frequency=440:sample_rate=8000:duration={seconds}", ".mp3",
                       "-ac", "1", "-c:a", "libmp3lame", "-b:a", "8k")


def ogg(seconds: float) -> bytes:
    return ffmpeg_make(f"sine=frequency=440:sample_rate=48000:duration={seconds}", ".ogg",
                       "-ac", "1", "-c:a", "libopus", "-b:a", "16k")


def mp4(seconds: float) -> bytes:
    return ffmpeg_make(f"color=c=red:s=64x48:d={seconds}:r=1", ".mp4", "-c:v", "mpeg4")


def data_url(data: bytes, mime: str = "") -> str:
    return f"data:{mime};base64,{base64.b64encode(data).decode()}"


def image_part(data: bytes) -> dict[str, Any]:
    return {"type": "image_url", "image_url": {"url": data_url(data, "image/png")}}


def audio_part(data: bytes, fmt: str | None = "wav") -> dict[str, Any]:
    item: dict[str, Any] = {"data": data_url(data)}
    if fmt is not None:
        item["format"] = fmt
    return {"type": "input_audio", "input_audio": item}


def text_part(text: str) -> dict[str, Any]:
    return {"type": "text", "text": text}


def user(*parts: dict[str, Any]) -> list[dict[str, Any]]:
    return [{"role": "user", "content": list(parts)}]


# --------------------------------------------------------------------------- call helpers


def stream(client: OpenAI, model: str = FLASH, messages: Any = None, **kwargs: Any) -> list[Any]:
    messages = messages if messages is not None else [{"role": "user", "content": "hi"}]
    return list(client.chat.completions.create(
        model=model, messages=messages, stream=True,
        stream_options={"include_usage": True}, **kwargs))


def rejected(client: OpenAI, model: str = FLASH, messages: Any = None,
             **kwargs: Any) -> openai.APIStatusError:
    with pytest.raises(openai.APIStatusError) as info:
        stream(client, model, messages, **kwargs)
    return info.value


def assert_bad(error: openai.APIStatusError, fragment: str) -> None:
    assert error.status_code == 400
    body = error.response.json()
    assert body["error"]["type"] == "invalid_request_error"
    assert body["error"]["param"] is None
    assert body["request_id"]
    assert fragment.lower() in body["error"]["message"].lower(), body


def post(fake: FakeDashScope, body: dict[str, Any] | bytes,
         key: str | None = "sk-test") -> tuple[int, dict[str, Any]]:
    raw = body if isinstance(body, bytes) else json.dumps(body).encode()
    headers = {"Content-Type": "application/json"}
    if key is not None:
        headers["Authorization"] = f"Bearer {key}"
    request = urllib.request.Request(f"{fake.base_url}/chat/completions", data=raw,
                                     headers=headers, method="POST")
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    try:
        with opener.open(request, timeout=30) as response:
            return response.status, {"raw": response.read().decode()}
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())


def text_of(chunks: list[Any]) -> str:
    return "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)


def audio_field(delta: Any, name: str) -> Any:
    audio = delta.audio
    if audio is None:
        return None
    return audio.get(name) if isinstance(audio, dict) else getattr(audio, name, None)


# --------------------------------------------------------------------------- happy paths


def test_text_stream(client: OpenAI, fake: FakeDashScope) -> None:
    chunks = stream(client, messages=[{"role": "user", "content": "hello there my friend"}])
    first = chunks[0]
    assert first.object == "chat.completion.chunk"
    assert first.id.startswith("chatcmpl-")
    assert first.model == FLASH
    assert first.choices[0].delta.role == "assistant"
    assert first.choices[0].delta.content == ""
    assert text_of(chunks) == "Echo: hello there my friend"
    content_chunks = [c for c in chunks if c.choices and c.choices[0].delta.content]
    assert len(content_chunks) >= 2
    assert [c.choices[0].finish_reason for c in chunks if c.choices][-1] == "stop"
    assert len(fake.accepted) == 1 and fake.rejections == []


def test_usage_chunk(client: OpenAI) -> None:
    chunks = stream(client, messages=[{"role": "system", "content": "be brief"},
                                      {"role": "user", "content": "hello"}])
    last = chunks[-1]
    assert last.choices == []
    usage = last.usage
    assert usage.total_tokens == usage.prompt_tokens + usage.completion_tokens
    assert usage.prompt_tokens_details.text_tokens == usage.prompt_tokens > 0
    assert usage.completion_tokens_details.text_tokens > 0


def test_no_usage_without_include_usage(client: OpenAI) -> None:
    chunks = list(client.chat.completions.create(
        model=FLASH, messages=[{"role": "user", "content": "hi"}], stream=True))
    assert all(c.choices for c in chunks)


def test_raw_sse_shape_ends_with_done(fake: FakeDashScope) -> None:
    status, body = post(fake, {"model": FLASH, "stream": True,
                               "messages": [{"role": "user", "content": "hi"}]})
    assert status == 200
    events = [e for e in body["raw"].split("\n\n") if e]
    assert all(e.startswith("data: ") for e in events)
    assert events[-1] == "data: [DONE]"
    chunk = json.loads(events[0][len("data: "):])
    assert chunk["usage"] is None
    assert chunk["choices"][0] == {"delta": {"role": "assistant", "content": ""},
                                   "finish_reason": None, "index": 0, "logprobs": None}


def test_audio_stream_pcm_length(client: OpenAI, fake: FakeDashScope) -> None:
    chunks = stream(client, messages=[{"role": "user", "content": "say something"}], **AUDIO_OUT)
    reply = text_of(chunks)
    deltas = [c.choices[0].delta for c in chunks if c.choices]
    b64 = "".join(audio_field(d, "data") or "" for d in deltas)
    pcm = base64.b64decode(b64)
    expected = round(FakeDashScope.expected_audio_seconds(reply) * SAMPLE_RATE)
    assert len(pcm) == 2 * expected
    assert max(abs(int.from_bytes(pcm[i:i + 2], "little", signed=True))
               for i in range(0, 2000, 2)) > 1000  # a real tone, not silence
    transcripts = [audio_field(d, "transcript") for d in deltas]
    assert reply in transcripts
    ids = {audio_field(d, "id") for d in deltas if audio_field(d, "data")}
    assert len(ids) == 1 and ids.pop().startswith("audio_")
    usage = chunks[-1].usage
    assert usage.completion_tokens_details.audio_tokens > 0


def test_audio_length_is_capped(client: OpenAI, fake: FakeDashScope) -> None:
    fake.reply_text = "word " * 100
    chunks = stream(client, **AUDIO_OUT)
    b64 = "".join(audio_field(c.choices[0].delta, "data") or "" for c in chunks if c.choices)
    assert FakeDashScope.expected_audio_seconds(fake.reply_text) == 8.0
    assert len(base64.b64decode(b64)) == 2 * 8 * SAMPLE_RATE


def test_thinking_stream(client: OpenAI) -> None:
    chunks = stream(client, messages=[{"role": "user", "content": "why?"}],
                    extra_body={"enable_thinking": True})
    deltas = [c.choices[0].delta for c in chunks if c.choices]
    reasoning = [getattr(d, "reasoning_content", None) for d in deltas]
    first_content = next(i for i, d in enumerate(deltas) if d.content)
    assert any(reasoning[:first_content])
    assert all(d.content is None for d in deltas[:first_content])
    assert text_of(chunks) == "Echo: why?"
    assert chunks[-1].usage.completion_tokens_details.reasoning_tokens > 0


def test_a_reply_longer_than_max_tokens_is_cut_with_finish_reason_length(
    client: OpenAI, fake: FakeDashScope
) -> None:
    fake.reply_text = "x" * 100
    chunks = stream(client, max_tokens=10)
    assert text_of(chunks) == "x" * 27  # 9 tokens of three characters, under 10 with the +1
    assert [c.choices[0].finish_reason for c in chunks if c.choices][-1] == "length"
    assert [c.choices[0].finish_reason for c in stream(client) if c.choices][-1] == "stop"


def test_reply_text_override(client: OpenAI, fake: FakeDashScope) -> None:
    fake.reply_text = "Fixed answer, always."
    assert text_of(stream(client)) == "Fixed answer, always."


def test_image_tag_and_tokens(client: OpenAI) -> None:
    chunks = stream(client, messages=user(image_part(png(100, 100)), text_part("what is it")))
    assert text_of(chunks) == "Echo: what is it [saw 1 image]"
    assert chunks[-1].usage.prompt_tokens_details.image_tokens == 11  # 3x3 blocks of 32 + 2


def test_several_images_are_one_modality(client: OpenAI) -> None:
    messages = user(image_part(png(40, 40)), image_part(png(50, 30)), text_part("compare"))
    assert text_of(stream(client, TURBO, messages)) == "Echo: compare [saw 2 images]"


def test_audio_input_tag(client: OpenAI) -> None:
    chunks = stream(client, messages=user(audio_part(wav(2.0)), text_part("listen")))
    assert text_of(chunks) == "Echo: listen [saw 1 audio clip (2.0 s)]"
    assert chunks[-1].usage.prompt_tokens_details.audio_tokens == 25  # 2 s x 12.5


def test_mp3_input_accepted(client: OpenAI) -> None:
    chunks = stream(client, TURBO, user(audio_part(mp3(1.0), "mp3")))
    assert "[saw 1 audio clip" in text_of(chunks)


def test_video_file_and_image_list(client: OpenAI) -> None:
    chunks = stream(client, messages=user({"type": "video_url",
                                           "video_url": {"url": data_url(mp4(3))}}))
    assert text_of(chunks) == "Echo: [saw 1 video (3.0 s)]"
    assert chunks[-1].usage.prompt_tokens_details.video_tokens > 0
    frames = [data_url(png(32, 32), "image/jpeg")] * 2
    chunks = stream(client, messages=user({"type": "video", "video": frames}))
    assert text_of(chunks) == "Echo: [saw 1 video of 2 frames]"


def test_history_with_other_modalities(client: OpenAI) -> None:
    messages = [
        {"role": "system", "content": [text_part("You are helpful.")]},
        {"role": "user", "content": [image_part(png(20, 20)), text_part("first")]},
        {"role": "assistant", "content": [text_part("An image.")]},
        {"role": "user", "content": [audio_part(wav(1.0)), text_part("second")]},
    ]
    assert text_of(stream(client, TURBO, messages)).startswith("Echo: second [saw 1 audio")


def test_captioner_stream_and_non_stream(client: OpenAI, fake: FakeDashScope) -> None:
    messages = user(audio_part(wav(3.0), None))
    caption = "The audio contains a steady tone lasting about 3.0 seconds."
    assert text_of(stream(client, CAPTIONER, messages)) == caption
    completion = client.chat.completions.create(model=CAPTIONER, messages=messages)
    assert completion.object == "chat.completion"
    assert completion.choices[0].message.content == caption
    assert completion.usage.prompt_tokens_details.audio_tokens == 38  # ceil(3 x 12.5)
    assert len(fake.accepted) == 2


@pytest.mark.asyncio
async def test_async_client(fake: FakeDashScope) -> None:
    client = openai.AsyncOpenAI(api_key=fake.api_key, base_url=fake.base_url, max_retries=0)
    response = await client.chat.completions.create(
        model=FLASH, messages=[{"role": "user", "content": "async"}], stream=True)
    text = "".join([c.choices[0].delta.content or "" async for c in response if c.choices])
    assert text == "Echo: async"
    await client.close()


def test_reset_and_records(client: OpenAI, fake: FakeDashScope) -> None:
    stream(client)
    rejected(client, model="gpt-4o")
    assert [r["model"] for r in fake.requests] == [FLASH, "gpt-4o"]
    assert len(fake.accepted) == 1 and fake.rejections[0][0] == 404
    fake.reply_text = "x"
    fake.add_fault(Fault(status=500))
    fake.reset()
    assert (fake.requests, fake.accepted, fake.rejections, fake.reply_text) == ([], [], [], None)
    assert text_of(stream(client)) == "Echo: hi"


# --------------------------------------------------------------------------- request rules


def test_auth(fake: FakeDashScope) -> None:
    body = {"model": FLASH, "stream": True, "messages": [{"role": "user", "content": "hi"}]}
    for key in ("sk-wrong", None):
        status, error = post(fake, body, key=key)
        assert status == 401 and error["error"]["code"] == "InvalidApiKey"
    assert len(fake.requests) == 2 and len(fake.rejections) == 2


def test_unknown_model(client: OpenAI) -> None:
    error = rejected(client, model="qwen-max")
    assert error.status_code == 404 and error.code == "ModelNotFound"


@pytest.mark.parametrize("model", ["qwen3-omni-flash-0915", "qwen-omni-turbo-latest",
                                   "qwen-omni-turbo-0119", SEVEN_B])
def test_aliases_accepted(client: OpenAI, model: str) -> None:
    assert text_of(stream(client, model)) == "Echo: hi"


def test_stream_required(client: OpenAI) -> None:
    with pytest.raises(openai.BadRequestError) as info:
        client.chat.completions.create(model=FLASH, messages=[{"role": "user", "content": "x"}])
    assert info.value.code == "invalid_parameter_error"
    assert_bad(info.value, "only support stream mode")


def test_invalid_json(fake: FakeDashScope) -> None:
    status, error = post(fake, b"{not json")
    assert status == 400 and "json" in error["error"]["message"].lower()


def test_body_too_large(fake: FakeDashScope) -> None:
    body = {"model": FLASH, "stream": True,
            "messages": [{"role": "user", "content": "x" * (MAX_BODY_BYTES + 10)}]}
    status, error = post(fake, body)
    assert status == 400
    assert error["error"]["message"] == f"max bytes to request body : {MAX_BODY_BYTES}"


def test_data_uri_item_too_large(fake: FakeDashScope) -> None:
    fake.max_body_bytes = 64 * 1024 * 1024  # let the per-item rule be reached
    url = "data:image/png;base64," + "A" * 10_485_760
    body = {"model": FLASH, "stream": True,
            "messages": [{"role": "user", "content": [{"type": "image_url",
                                                       "image_url": {"url": url}}]}]}
    status, error = post(fake, body)
    assert status == 400
    assert "max bytes per data-uri item : 10485760" in error["error"]["message"]


def test_data_url_needs_base64_keyword(client: OpenAI) -> None:
    b64 = base64.b64encode(png(20, 20)).decode()
    part = {"type": "image_url", "image_url": {"url": f"data:image/png,{b64}"}}
    assert_bad(rejected(client, messages=user(part)), "base64")


def test_remote_urls_refused_offline(client: OpenAI) -> None:
    part = {"type": "image_url", "image_url": {"url": "https://example.com/a.png"}}
    assert_bad(rejected(client, messages=user(part)), "data url")


def test_one_modality_per_user_message(client: OpenAI) -> None:
    messages = user(image_part(png(20, 20)), audio_part(wav(1.0)), text_part("both"))
    assert_bad(rejected(client, messages=messages), "only one other modality")


def test_one_audio_file_per_message(client: OpenAI) -> None:
    messages = user(audio_part(wav(1.0)), audio_part(wav(1.5)))
    assert_bad(rejected(client, messages=messages), "one audio file")


def test_assistant_text_only(client: OpenAI) -> None:
    messages = [{"role": "user", "content": "a"},
                {"role": "assistant", "content": [image_part(png(20, 20))]},
                {"role": "user", "content": "b"}]
    assert_bad(rejected(client, messages=messages), "only hold text")


def test_bad_role_and_system_position(client: OpenAI) -> None:
    assert_bad(rejected(client, messages=[{"role": "tool", "content": "x"}]), "role")
    messages = [{"role": "user", "content": "a"}, {"role": "system", "content": "late"}]
    assert_bad(rejected(client, messages=messages), "first message")


def test_unknown_part_type(client: OpenAI) -> None:
    assert_bad(rejected(client, messages=user({"type": "file", "file": {}})), "part type")


@pytest.mark.parametrize("modalities", [["audio"], ["text", "video"], "text"])
def test_bad_modalities(client: OpenAI, modalities: Any) -> None:
    assert_bad(rejected(client, modalities=modalities), "modalities")


@pytest.mark.parametrize(("model", "audio", "fragment"), [
    (FLASH, None, "voice"),
    (FLASH, {"voice": "Serena", "format": "wav"}, "voice"),
    (TURBO, {"voice": "Jennifer", "format": "wav"}, "voice"),
    (SEVEN_B, {"voice": "Cherry", "format": "wav"}, "voice"),
    (FLASH, {"voice": "Cherry", "format": "mp3"}, "wav"),
])
def test_audio_output_params(client: OpenAI, model: str, audio: Any, fragment: str) -> None:
    kwargs: dict[str, Any] = {"modalities": ["text", "audio"]}
    if audio is not None:
        kwargs["audio"] = audio
    assert_bad(rejected(client, model, **kwargs), fragment)


@pytest.mark.parametrize("model", ["qwen3-omni-flash-2025-09-15", TURBO, SEVEN_B])
def test_voices_accepted(client: OpenAI, model: str) -> None:
    voice = {"qwen3-omni-flash-2025-09-15": "Eric", TURBO: "Serena", SEVEN_B: "Chelsie"}[model]
    chunks = stream(client, model, modalities=["text", "audio"],
                    audio={"voice": voice, "format": "wav"})
    assert text_of(chunks) == "Echo: hi"


def test_thinking_rules(client: OpenAI) -> None:
    assert_bad(rejected(client, TURBO, extra_body={"enable_thinking": True}), "enable_thinking")
    assert_bad(rejected(client, FLASH, extra_body={"enable_thinking": True}, **AUDIO_OUT),
               "thinking mode")
    assert text_of(stream(client, TURBO, extra_body={"enable_thinking": False})) == "Echo: hi"


def test_turbo_no_system_with_audio_output(client: OpenAI) -> None:
    messages = [{"role": "system", "content": "sys"}, {"role": "user", "content": "hi"}]
    assert_bad(rejected(client, TURBO, messages, **AUDIO_OUT), "system message")
    assert text_of(stream(client, FLASH, messages, **AUDIO_OUT)) == "Echo: hi"
    assert text_of(stream(client, TURBO, messages)) == "Echo: hi"


@pytest.mark.parametrize(("size", "fragment"), [((10, 50), "greater than 10"),
                                                ((11, 2300), "aspect ratio")])
def test_image_geometry(client: OpenAI, size: tuple[int, int], fragment: str) -> None:
    assert_bad(rejected(client, messages=user(image_part(png(*size)))), fragment)


def test_image_must_decode(client: OpenAI) -> None:
    assert_bad(rejected(client, messages=user(image_part(b"not an image at all"))), "illegal")


def test_audio_format_rules(client: OpenAI) -> None:
    assert_bad(rejected(client, messages=user(audio_part(ogg(1.0), "ogg"))), "unsupported")
    assert_bad(rejected(client, messages=user(audio_part(ogg(1.0), None))), "unsupported")
    assert_bad(rejected(client, messages=user(audio_part(wav(1.0), "mp3"))), "does not match")


def test_audio_must_decode(client: OpenAI) -> None:
    garbage = b"RIFF\x10\x00\x00\x00WAVEjunkjunkjunkjunk" * 4
    assert_bad(rejected(client, messages=user(audio_part(garbage))), "could not be decoded")


def test_audio_duration_limits(client: OpenAI) -> None:
    assert_bad(rejected(client, TURBO, user(audio_part(mp3(181), "mp3"))), "too long")
    assert_bad(rejected(client, SEVEN_B, user(audio_part(mp3(181), "mp3"))), "too long")
    assert "[saw 1 audio" in text_of(stream(client, FLASH, user(audio_part(mp3(181), "mp3"))))
    assert_bad(rejected(client, FLASH, user(audio_part(mp3(1201), "mp3"))), "too long")


def test_video_rules(client: OpenAI) -> None:
    video = {"type": "video_url", "video_url": {"url": data_url(mp4(41))}}
    assert_bad(rejected(client, TURBO, user(video)), "too long")
    assert "[saw 1 video (41.0 s)]" in text_of(stream(client, FLASH, user(video)))
    frame = data_url(png(32, 32), "image/png")
    assert_bad(rejected(client, FLASH, user({"type": "video", "video": [frame]})), "2 to 128")
    assert_bad(rejected(client, TURBO, user({"type": "video", "video": [frame] * 3})),
               "4 to 80")
    bad_frame = data_url(b"nope", "image/png")
    assert_bad(rejected(client, FLASH, user({"type": "video", "video": [frame, bad_frame]})),
               "illegal")
    not_video = {"type": "video_url", "video_url": {"url": data_url(b"\x00" * 64)}}
    assert_bad(rejected(client, FLASH, user(not_video)), "could not be decoded")


@pytest.mark.parametrize(("messages", "kwargs", "fragment"), [
    ([{"role": "system", "content": "s"}, {"role": "user", "content": [audio_part(b"")]}],
     {}, "exactly one user message"),
    (user(audio_part(b"", None), text_part("describe")), {}, "exactly one input_audio"),
    ([{"role": "user", "content": "describe this"}], {}, "exactly one input_audio"),
    (user(audio_part(b"", None)), AUDIO_OUT, "audio output"),
])
def test_captioner_shape(client: OpenAI, messages: Any, kwargs: dict[str, Any],
                         fragment: str) -> None:
    assert_bad(rejected(client, CAPTIONER, messages, **kwargs), fragment)


def test_captioner_audio_formats(client: OpenAI) -> None:
    assert_bad(rejected(client, CAPTIONER, user(audio_part(ogg(1.0), None))), "unsupported")
    assert_bad(rejected(client, CAPTIONER, user(audio_part(ogg(1.0), "opus"))), "unsupported")
    assert "1.0 seconds" in text_of(stream(client, CAPTIONER, user(audio_part(mp3(1.0), "mp3"))))


def test_input_length_limits(client: OpenAI) -> None:
    long_text = "x" * (16_384 * 3 + 30)
    messages = [{"role": "user", "content": long_text}]
    assert text_of(stream(client, FLASH, messages)).startswith("Echo: xxx")
    error = rejected(client, FLASH, messages, extra_body={"enable_thinking": True})
    assert_bad(error, "Range of input length should be [1, 16384]")
    huge = [{"role": "user", "content": "x" * (49_152 * 3 + 30)}]
    assert_bad(rejected(client, FLASH, huge), "Range of input length should be [1, 49152]")
    over_turbo = [{"role": "user", "content": "x" * (30_720 * 3 + 30)}]
    assert text_of(stream(client, FLASH, over_turbo)).startswith("Echo: xxx")
    assert_bad(rejected(client, TURBO, over_turbo), "Range of input length should be [1, 30720]")


def test_max_tokens_range(client: OpenAI) -> None:
    assert_bad(rejected(client, TURBO, max_tokens=4096), "[1, 2048]")
    assert text_of(stream(client, FLASH, max_tokens=4096)) == "Echo: hi"


# --------------------------------------------------------------------------- faults


@pytest.mark.parametrize(("status", "code", "exc"), [
    (429, "Throttling.RateQuota", openai.RateLimitError),
    (500, "InternalError", openai.InternalServerError),
    (401, "InvalidApiKey", openai.AuthenticationError),
    (404, "ModelNotFound", openai.NotFoundError),
    (400, "DataInspectionFailed", openai.BadRequestError),
])
def test_status_faults(client: OpenAI, fake: FakeDashScope, status: int, code: str,
                       exc: type[Exception]) -> None:
    fake.add_fault(Fault(status=status, code=code, message="injected"))
    with pytest.raises(exc) as info:
        stream(client)
    assert info.value.code == code
    assert fake.rejections[-1][1]["error"]["message"] == "injected"
    assert text_of(stream(client)) == "Echo: hi"  # one-shot


def test_fault_default_code_and_times(client: OpenAI, fake: FakeDashScope) -> None:
    fake.add_fault(Fault(status=429, times=2))
    for _ in range(2):
        with pytest.raises(openai.RateLimitError) as info:
            stream(client)
        assert info.value.code == "Throttling.RateQuota"
    assert text_of(stream(client)) == "Echo: hi"


def test_transient_fault_is_retried_by_sdk(fake: FakeDashScope) -> None:
    fake.add_fault(Fault(status=503, times=1))
    retrying = OpenAI(api_key=fake.api_key, base_url=fake.base_url, max_retries=1)
    assert text_of(stream(retrying)) == "Echo: hi"
    assert len(fake.requests) == 2


def test_persistent_fault(client: OpenAI, fake: FakeDashScope) -> None:
    fake.add_fault(Fault(status=500, times=-1))
    for _ in range(3):
        with pytest.raises(openai.InternalServerError):
            stream(client)
    fake.reset()
    assert text_of(stream(client)) == "Echo: hi"


def test_a_fault_for_one_model_spares_requests_for_others(
        client: OpenAI, fake: FakeDashScope) -> None:
    fake.add_fault(Fault(status=400, code="DataInspectionFailed", model=TURBO))
    fake.add_fault(Fault(cut_after_chunks=1, model=TURBO))
    assert text_of(stream(client, FLASH)) == "Echo: hi"  # neither fault is spent on flash
    with pytest.raises(openai.BadRequestError) as info:
        stream(client, TURBO)
    assert info.value.code == "DataInspectionFailed"
    with pytest.raises(openai.APIConnectionError):
        stream(client, TURBO)
    assert text_of(stream(client, TURBO)) == "Echo: hi"


def test_cut_after_chunks(client: OpenAI, fake: FakeDashScope) -> None:
    fake.add_fault(Fault(cut_after_chunks=2))
    received: list[Any] = []
    response = client.chat.completions.create(
        model=FLASH, messages=[{"role": "user", "content": "one two three four five six"}],
        stream=True)
    with pytest.raises(openai.APIConnectionError):
        for chunk in response:
            received.append(chunk)
    assert len(received) == 2
    assert text_of(stream(client)) == "Echo: hi"


def test_first_token_delay(client: OpenAI, fake: FakeDashScope) -> None:
    fake.add_fault(Fault(first_token_delay=0.4))
    started = time.monotonic()
    assert text_of(stream(client)) == "Echo: hi"
    assert time.monotonic() - started >= 0.4


def test_token_delay(client: OpenAI, fake: FakeDashScope) -> None:
    fake.token_delay = 0.05
    started = time.monotonic()
    chunks = stream(client)
    assert time.monotonic() - started >= 0.05 * (len(chunks) - 1)


def test_error_event_mid_stream(client: OpenAI, fake: FakeDashScope) -> None:
    fake.add_fault(Fault(code="DataInspectionFailed", message="bad output", error_event=True))
    received: list[Any] = []
    response = client.chat.completions.create(
        model=FLASH, messages=[{"role": "user", "content": "hi"}], stream=True)
    with pytest.raises(openai.APIError) as info:
        for chunk in response:
            received.append(chunk)
    assert len(received) == 1
    assert info.value.code == "DataInspectionFailed"
    assert info.value.message == "bad output"


def test_cut_non_streamed_captioner(client: OpenAI, fake: FakeDashScope) -> None:
    fake.add_fault(Fault(cut_after_chunks=0))
    with pytest.raises(openai.APIConnectionError):
        client.chat.completions.create(model=CAPTIONER, messages=user(audio_part(wav(1.0))))


def test_expected_audio_seconds() -> None:
    assert FakeDashScope.expected_audio_seconds("") == 0.0
    assert math.isclose(FakeDashScope.expected_audio_seconds("abcde"), 0.3)
    assert FakeDashScope.expected_audio_seconds("a" * 1000) == 8.0
