"""The realtime stand-in rejects what DashScope's realtime API rejects, and answers a turn
in the service's order of events."""

from __future__ import annotations

import base64
import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import aiohttp
import pytest

from tests.doubles.fake_realtime import MAX_APPEND_BYTES, FakeRealtime
from tests.doubles.fake_realtime.fixtures import API_KEY
from tests.realtime.audio import silence, speech

FLASH = "qwen3-omni-flash-realtime"
TURBO = "qwen-omni-turbo-realtime"


class Raw:
    """A bare WebSocket client: sends events, reads them back."""

    def __init__(self, ws: aiohttp.ClientWebSocketResponse) -> None:
        self.ws = ws

    async def send(self, event: dict[str, Any]) -> None:
        await self.ws.send_str(json.dumps(event))

    async def next(self, timeout: float = 20.0) -> dict[str, Any]:
        message = await self.ws.receive(timeout=timeout)
        assert message.type == aiohttp.WSMsgType.TEXT, message
        event: dict[str, Any] = json.loads(message.data)
        return event

    async def until(self, kind: str, timeout: float = 30.0) -> list[dict[str, Any]]:
        """Every event up to and including the first of type ``kind``."""
        seen = []
        while True:
            event = await self.next(timeout)
            seen.append(event)
            if event["type"] == kind:
                return seen

    async def append(self, pcm: bytes) -> None:
        for start in range(0, len(pcm), 3200):
            await self.send({"type": "input_audio_buffer.append",
                             "audio": base64.b64encode(pcm[start:start + 3200]).decode()})


@asynccontextmanager
async def connect(server: FakeRealtime, model: str = FLASH, key: str = API_KEY
                  ) -> AsyncIterator[Raw]:
    async with aiohttp.ClientSession() as http, http.ws_connect(
            f"{server.url}?model={model}", headers={"Authorization": f"Bearer {key}"}) as ws:
        raw = Raw(ws)
        created = await raw.next()
        assert created["type"] == "session.created"
        assert created["session"]["model"] == model
        yield raw


async def test_a_wrong_key_or_model_fails_the_handshake(fake_realtime: FakeRealtime) -> None:
    for model, key, status in ((FLASH, "sk-wrong-key-000000", 401), ("qwen-omni-x", API_KEY, 404)):
        with pytest.raises(aiohttp.WSServerHandshakeError) as caught:
            async with connect(fake_realtime, model, key):
                pass
        assert caught.value.status == status
    fake_realtime.refuse_key = True
    with pytest.raises(aiohttp.WSServerHandshakeError):
        async with connect(fake_realtime):
            pass
    assert [h["status"] for h in fake_realtime.handshakes] == [401, 404, 401]
    assert fake_realtime.admitted == 0


@pytest.mark.parametrize(("model", "session", "param"), [
    (TURBO, {"voice": "Nofish"}, "session.voice"),
    (FLASH, {"voice": "cherry"}, "session.voice"),
    (FLASH, {"modalities": ["audio"]}, "session.modalities"),
    (FLASH, {"input_audio_format": "pcm24"}, "session.input_audio_format"),
    (TURBO, {"output_audio_format": "pcm24"}, "session.output_audio_format"),
    (FLASH, {"turn_detection": {"type": "server_vad", "silence_duration_ms": 100}},
     "session.turn_detection.silence_duration_ms"),
    (FLASH, {"turn_detection": {"type": "server_vad", "silence_duration_ms": 6001}},
     "session.turn_detection.silence_duration_ms"),
    (FLASH, {"turn_detection": {"type": "server_vad", "threshold": 1.5}},
     "session.turn_detection.threshold"),
    (FLASH, {"turn_detection": {"type": "semantic_vad"}}, "session.turn_detection"),
    (FLASH, {"voices": "Cherry"}, "session.voices"),
])
async def test_session_update_is_checked_as_documented(
    fake_realtime: FakeRealtime, model: str, session: dict[str, Any], param: str
) -> None:
    async with connect(fake_realtime, model) as raw:
        await raw.send({"type": "session.update", "session": session})
        error = await raw.next()
    assert error["type"] == "error"
    assert error["error"]["type"] == "invalid_request_error"
    assert error["error"]["param"] == param


async def test_a_good_session_update_is_confirmed(fake_realtime: FakeRealtime) -> None:
    async with connect(fake_realtime, TURBO) as raw:
        await raw.send({"type": "session.update", "session": {
            "modalities": ["text", "audio"], "voice": "Chelsie", "instructions": "Be brief.",
            "input_audio_format": "pcm16", "output_audio_format": "pcm16",
            "turn_detection": {"type": "server_vad", "threshold": 0.3,
                               "silence_duration_ms": 1200, "prefix_padding_ms": 200}}})
        updated = await raw.next()
    assert updated["type"] == "session.updated"
    assert updated["session"]["instructions"] == "Be brief."
    assert fake_realtime.vad_silence_ms == 1200


@pytest.mark.parametrize(("event", "code"), [
    ({"type": "conversation.item.create"}, "invalid_event_type"),
    ({"type": "input_audio_buffer.append", "audio": "not base64!"}, "invalid_value"),
    ({"type": "input_audio_buffer.append", "audio": base64.b64encode(b"abc").decode()},
     "invalid_value"),
    ({"type": "input_audio_buffer.append",
      "audio": base64.b64encode(bytes(MAX_APPEND_BYTES + 2)).decode()}, "invalid_value"),
    ({"type": "input_image_buffer.append",
      "image": base64.b64encode(b"\xff\xd8\xff\xe0jpeg").decode()}, "invalid_request"),
    ({"type": "input_audio_buffer.commit"}, "input_audio_buffer_commit_empty"),
    ({"type": "response.cancel"}, "response_cancel_not_active"),
])
async def test_client_events_the_api_rejects_get_an_error_event(
    fake_realtime: FakeRealtime, event: dict[str, Any], code: str
) -> None:
    async with connect(fake_realtime) as raw:
        await raw.send(event)
        error = await raw.next()
    assert (error["type"], error["error"]["code"]) == ("error", code)


async def test_an_image_after_audio_is_taken_and_finish_closes(
    fake_realtime: FakeRealtime
) -> None:
    async with connect(fake_realtime) as raw:
        await raw.append(silence(0.2))
        await raw.send({"type": "input_image_buffer.append",
                        "image": base64.b64encode(b"\xff\xd8\xff\xe0jpeg").decode()})
        await raw.send({"type": "session.finish"})
        assert (await raw.next())["type"] == "session.finished"
        closing = await raw.ws.receive(timeout=20)
    assert closing.type in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSED)
    assert "error" not in fake_realtime.sent_types()


async def test_server_vad_answers_a_turn_in_the_services_order(
    fake_realtime: FakeRealtime
) -> None:
    fake_realtime.answer_seconds = 0.5
    async with connect(fake_realtime) as raw:
        await raw.send({"type": "session.update", "session": {
            "voice": "Ethan", "turn_detection": {"type": "server_vad",
                                                  "silence_duration_ms": 400}}})
        await raw.until("session.updated")
        await raw.append(silence(0.3) + speech(1.0) + silence(0.6))
        events = await raw.until("response.done")
    kinds = [e["type"] for e in events]
    expected = ["input_audio_buffer.speech_started", "input_audio_buffer.speech_stopped",
                "input_audio_buffer.committed", "conversation.item.created",
                "conversation.item.input_audio_transcription.completed", "response.created",
                "response.output_item.added", "response.content_part.added"]
    assert kinds[:len(expected)] == expected
    assert kinds[-5:] == ["response.audio_transcript.done", "response.audio.done",
                          "response.content_part.done", "response.output_item.done",
                          "response.done"]
    started = events[0]
    assert 250 <= started["audio_start_ms"] <= 350
    audio = b"".join(base64.b64decode(e["delta"]) for e in events
                     if e["type"] == "response.audio.delta")
    assert len(audio) == 24_000  # 0.5 s of 24 kHz PCM16
    heard = events[4]["transcript"]
    assert heard == "Hello, I spoke for 1.0 seconds."
    done = events[-1]["response"]
    assert done["status"] == "completed"
    assert done["usage"]["input_token_details"]["audio_tokens"] == 25


async def test_manual_mode_commits_and_answers_on_request(fake_realtime: FakeRealtime) -> None:
    fake_realtime.answer_seconds = 0.2
    async with connect(fake_realtime, TURBO) as raw:
        await raw.send({"type": "session.update", "session": {"turn_detection": None,
                                                              "modalities": ["text"]}})
        await raw.until("session.updated")
        await raw.append(speech(0.5) + silence(1.0))
        await raw.send({"type": "input_audio_buffer.commit"})
        await raw.until("conversation.item.input_audio_transcription.completed")
        await raw.send({"type": "response.create"})
        events = await raw.until("response.done")
    kinds = [e["type"] for e in events]
    assert "response.audio.delta" not in kinds
    assert "response.text.delta" in kinds
    assert events[-1]["response"]["status"] == "completed"


async def test_cancel_stops_a_paced_answer(fake_realtime: FakeRealtime) -> None:
    fake_realtime.answer_seconds = 10.0
    fake_realtime.delta_interval = 0.1
    async with connect(fake_realtime) as raw:
        await raw.append(speech(0.6) + silence(1.0))
        await raw.until("response.audio.delta")
        await raw.send({"type": "response.cancel"})
        events = await raw.until("response.done")
    assert events[-1]["response"]["status"] == "cancelled"
    deltas = [e for e in fake_realtime.sent if e["type"] == "response.audio.delta"]
    assert len(deltas) < 100  # far short of the 10 s answer
