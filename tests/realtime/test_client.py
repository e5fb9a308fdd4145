"""The realtime client against the local stand-in: a real WebSocket, real events."""

from __future__ import annotations

import asyncio
import base64
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import pytest
from omnicord.errors import (
    AuthenticationFailed,
    BadRequest,
    RequestRefused,
    UpstreamError,
    UpstreamUnavailable,
)
from omnicord.model.catalog import UnknownRealtimeModelError, UnknownVoiceError
from omnicord.realtime.client import (
    CHUNK_BYTES,
    RealtimeClient,
    RealtimeSession,
    SessionOptions,
    VadSettings,
    with_model,
)
from omnicord.realtime.events import (
    AnswerDone,
    AnswerStarted,
    AudioDelta,
    InputTranscript,
    RealtimeEvent,
    RealtimeUsage,
    SessionRenewed,
    SpeechStarted,
    SpeechStopped,
    TranscriptDelta,
)

from tests.doubles.fake_realtime import FakeRealtime
from tests.doubles.fake_realtime.fixtures import API_KEY
from tests.realtime.audio import chunks, silence, speech

FLASH = "qwen3-omni-flash-realtime"
TURBO = "qwen-omni-turbo-realtime"
#: A bound on waits that only a hung test reaches (never a measurement).
PATIENCE = 30.0


def options(**given: object) -> SessionOptions:
    settings: dict[str, object] = {"model": FLASH, "voice": "Cherry",
                                   "vad": VadSettings(silence_ms=400)}
    settings.update(given)
    return SessionOptions(**settings)  # type: ignore[arg-type]


@asynccontextmanager
async def client_for(server: FakeRealtime, **given: object) -> AsyncIterator[RealtimeClient]:
    client = RealtimeClient(url=server.url, api_key=API_KEY, **given)  # type: ignore[arg-type]
    try:
        yield client
    finally:
        await client.aclose()


async def until_done(session: RealtimeSession) -> list[RealtimeEvent]:
    """Every event up to and including the first AnswerDone."""
    seen: list[RealtimeEvent] = []
    async with asyncio.timeout(PATIENCE):
        async for event in session.events():
            seen.append(event)
            if isinstance(event, AnswerDone):
                return seen
    raise AssertionError(f"the session ended without an answer: {seen}")


async def say(session: RealtimeSession, seconds: float = 0.8) -> None:
    """A turn: speech, then silence past the VAD window, in uneven pieces."""
    for piece in chunks(silence(0.2) + speech(seconds) + silence(0.8), 5000):
        await session.append(piece)


async def test_session_update_carries_voice_instructions_and_vad(
    fake_realtime: FakeRealtime
) -> None:
    async with client_for(fake_realtime) as client:
        opened = await client.open(options(voice="ethan", instructions="Answer in one line.",
                                           vad=VadSettings(0.4, 700, 250)))
        async with opened as session:
            assert (session.voice, session.output_rate) == ("Ethan", 24_000)
            assert session.model.name == FLASH
        turbo = await client.open(options(model="qwen-omni-turbo-realtime-latest", voice=None))
        assert (turbo.voice, turbo.output_rate) == ("Chelsie", 16_000)
        await turbo.close()
    update = fake_realtime.received_of("session.update")[0]["session"]
    assert update["voice"] == "Ethan"
    assert update["instructions"] == "Answer in one line."
    assert update["turn_detection"] == {"type": "server_vad", "threshold": 0.4,
                                        "silence_duration_ms": 700, "prefix_padding_ms": 250}
    assert (update["input_audio_format"], update["output_audio_format"]) == ("pcm16", "pcm16")
    assert update["modalities"] == ["text", "audio"]
    assert update["input_audio_transcription"] == {"model": "gummy-realtime-v1"}
    assert [h["model"] for h in fake_realtime.handshakes] == [
        FLASH, "qwen-omni-turbo-realtime-latest"]
    assert fake_realtime.received_types().count("session.finish") == 2


async def test_a_turn_is_heard_and_answered_in_events(fake_realtime: FakeRealtime) -> None:
    fake_realtime.answer_seconds = 0.6
    fake_realtime.answer_text = "Twenty four kilohertz of fine answer."
    async with client_for(fake_realtime) as client, await client.open(options()) as session:
        await say(session, 1.0)
        events = await until_done(session)
    kinds = [type(event) for event in events]
    assert kinds[:5] == [SpeechStarted, SpeechStopped, InputTranscript, AnswerStarted,
                         TranscriptDelta]
    assert events[2] == InputTranscript("Hello, I spoke for 1.0 seconds.")
    started = events[0]
    assert isinstance(started, SpeechStarted) and 150 <= started.audio_start_ms <= 250
    audio = b"".join(e.pcm for e in events if isinstance(e, AudioDelta))
    assert len(audio) == round(0.6 * 24_000) * 2
    assert audio.count(b"\x00\x00") < len(audio) // 8  # a tone, not silence
    done = events[-1]
    assert isinstance(done, AnswerDone) and isinstance(events[3], AnswerStarted)
    assert (done.status, done.response_id) == ("completed", events[3].response_id)
    assert done.transcript == "Twenty four kilohertz of fine answer."
    assert "".join(e.text for e in events if isinstance(e, TranscriptDelta)) == done.transcript
    assert done.usage == RealtimeUsage(input_tokens=25, output_tokens=14, input_audio_tokens=25,
                                       output_audio_tokens=8, total_tokens=39)
    sizes = fake_realtime.appended_sizes()
    assert max(sizes) <= CHUNK_BYTES and len(sizes) > 10
    assert sum(sizes) == len(silence(0.2) + speech(1.0) + silence(0.8))


async def test_an_odd_byte_waits_for_its_other_half(fake_realtime: FakeRealtime) -> None:
    pcm = speech(0.3)
    async with client_for(fake_realtime) as client, await client.open(options()) as session:
        await session.append(pcm[:1001])
        await session.append(pcm[1001:])
    assert sum(fake_realtime.appended_sizes()) == len(pcm)
    assert "error" not in fake_realtime.sent_types()


async def test_barge_in_cancels_the_answer_and_drops_its_audio(
    fake_realtime: FakeRealtime
) -> None:
    fake_realtime.answer_seconds = 20.0
    fake_realtime.delta_interval = 0.05
    async with client_for(fake_realtime) as client, await client.open(options()) as session:
        await say(session)
        after: list[RealtimeEvent] = []
        cancelled = False
        async with asyncio.timeout(PATIENCE):
            async for event in session.events():
                if cancelled:
                    after.append(event)
                if isinstance(event, AudioDelta) and not cancelled:
                    assert session.responding
                    await session.cancel()
                    cancelled = True
                if isinstance(event, AnswerDone):
                    break
        assert not session.responding
    done = after[-1]
    assert isinstance(done, AnswerDone) and done.status == "cancelled"
    assert not [e for e in after if isinstance(e, AudioDelta | TranscriptDelta)]
    assert fake_realtime.received_types().count("response.cancel") == 1
    sent_audio = fake_realtime.sent_types().count("response.audio.delta")
    assert sent_audio < 200  # far short of the 20 s answer


async def test_cancel_without_an_answer_sends_nothing(fake_realtime: FakeRealtime) -> None:
    async with client_for(fake_realtime) as client, await client.open(options()) as session:
        assert not session.responding
        await session.cancel()
        await session.append(silence(0.1))
    assert "response.cancel" not in fake_realtime.received_types()
    assert "error" not in fake_realtime.sent_types()


async def test_an_error_event_is_an_upstream_error_without_the_key(
    fake_realtime: FakeRealtime
) -> None:
    fake_realtime.error_after_events = 2  # session.created, session.updated, then the error
    fake_realtime.error_type = "invalid_request_error"
    fake_realtime.error_code = "invalid_value"
    fake_realtime.error_message = f"Bad audio\nfrom key {API_KEY}, Bearer {API_KEY}"
    async with client_for(fake_realtime) as client, await client.open(options()) as session:
        with pytest.raises(BadRequest) as caught:
            await until_done(session)
        with pytest.raises(BadRequest):  # a second reader hears the same
            await until_done(session)
        with pytest.raises(BadRequest):
            await session.append(silence(0.1))
    message = str(caught.value)
    assert API_KEY not in message and "\n" not in message
    assert message.startswith("The realtime model service rejected a request: Bad audio")
    assert caught.value.code == "invalid_value"


async def test_a_server_error_is_unavailable(fake_realtime: FakeRealtime) -> None:
    fake_realtime.error_after_events = 2
    async with client_for(fake_realtime) as client, await client.open(options()) as session:
        with pytest.raises(UpstreamUnavailable, match="failed: The server had an error"):
            await until_done(session)


async def test_an_error_before_the_session_is_set_up_fails_open(
    fake_realtime: FakeRealtime
) -> None:
    fake_realtime.error_after_events = 1
    fake_realtime.error_type = "invalid_request_error"
    async with client_for(fake_realtime) as client:
        with pytest.raises(BadRequest):
            await client.open(options())


async def test_a_dropped_connection_is_unavailable(fake_realtime: FakeRealtime) -> None:
    fake_realtime.drop_after_audio_deltas = 2
    async with client_for(fake_realtime) as client, await client.open(options()) as session:
        audio = 0
        # The stand-in may answer (and drop) while the last silence is still being sent: the
        # drop is then what the next append raises, rather than what the events end with.
        with pytest.raises(UpstreamUnavailable, match="dropped"):
            await say(session)
            async with asyncio.timeout(PATIENCE):
                async for event in session.events():
                    audio += isinstance(event, AudioDelta)
        assert audio <= 2


async def test_a_refused_key_is_said_without_the_key(fake_realtime: FakeRealtime) -> None:
    wrong = "sk-wrong-but-secret-998877"
    async with client_for(fake_realtime) as client:
        client._api_key = wrong
        with pytest.raises(AuthenticationFailed) as caught:
            await client.open(options())
    message = str(caught.value)
    assert "refused the API key" in message and "127.0.0.1" in message
    assert wrong not in message and API_KEY not in message
    assert caught.value.status == 401
    assert caught.value.__cause__ is None and caught.value.__suppress_context__


async def test_nothing_is_sent_for_a_voice_or_model_the_catalog_lacks(
    fake_realtime: FakeRealtime
) -> None:
    async with client_for(fake_realtime) as client:
        with pytest.raises(UnknownVoiceError, match="choose from Cherry, Serena, Ethan, Chelsie"):
            await client.open(options(model=TURBO, voice="Nofish"))
        with pytest.raises(UnknownRealtimeModelError):
            await client.open(options(model="qwen3-omni-flash"))
        with pytest.raises(RequestRefused, match="200-6000"):
            await client.open(options(vad=VadSettings(silence_ms=100)))
    assert fake_realtime.handshakes == []


async def test_an_unreachable_service_is_unavailable() -> None:
    client = RealtimeClient(url="ws://127.0.0.1:9/api-ws/v1/realtime", api_key=API_KEY,
                            connect_timeout=10)
    with pytest.raises(UpstreamUnavailable, match=r"Could not reach .* at 127\.0\.0\.1:9"):
        await client.open(options())
    await client.aclose()


async def test_the_pace_is_taken_once_per_session(fake_realtime: FakeRealtime) -> None:
    paced = []

    async def pace() -> None:
        paced.append(1)

    async with client_for(fake_realtime, pace=pace) as client:
        async with await client.open(options()) as session:
            await say(session)
            await until_done(session)
        assert len(paced) == 1
        await (await client.open(options())).close()
    assert len(paced) == 2


async def test_renewal_resends_the_session_and_loses_no_audio(
    fake_realtime: FakeRealtime
) -> None:
    fake_realtime.answer_seconds = 0.3
    appended = bytearray()
    async with client_for(fake_realtime, max_session_seconds=2.0) as client:
        session = await client.open(options(instructions="Keep these instructions."))

        async def stream_quiet() -> None:  # a steady trickle across the switch
            while True:
                piece = silence(0.05)
                await session.append(piece)
                appended.extend(piece)
                await asyncio.sleep(0.01)

        streaming = asyncio.create_task(stream_quiet())
        try:
            async with asyncio.timeout(PATIENCE):
                async for event in session.events():
                    if isinstance(event, SessionRenewed):
                        break
            await asyncio.sleep(0.2)  # some audio after the switch too
        finally:
            streaming.cancel()
            await asyncio.gather(streaming, return_exceptions=True)
        assert session.renewals >= 1
        await say(session)
        events = await until_done(session)
        await session.close()
        await session.close()  # idempotent
    done = events[-1]
    assert isinstance(done, AnswerDone) and done.status == "completed"
    updates = fake_realtime.received_of("session.update")
    assert len(updates) >= 2
    assert {u["session"]["instructions"] for u in updates} == {"Keep these instructions."}
    assert updates[0]["session"] == updates[1]["session"]
    total = sum(len(base64.b64decode(e["audio"]))
                for e in fake_realtime.received_of("input_audio_buffer.append"))
    assert total == len(appended) + len(silence(0.2) + speech(0.8) + silence(0.8))
    answered_on = {e["_connection"] for e in fake_realtime.sent if e["type"] == "response.done"}
    assert answered_on == {updates[-1]["_connection"]}
    first = [e["_connection"] for e in fake_realtime.received_of("session.finish")]
    assert updates[0]["_connection"] in first  # the old connection was finished


async def test_renewal_is_forced_at_the_limit_during_a_long_answer(
    fake_realtime: FakeRealtime
) -> None:
    fake_realtime.answer_seconds = 60.0
    fake_realtime.delta_interval = 0.05
    async with client_for(fake_realtime, max_session_seconds=3.0) as client, \
            await client.open(options()) as session:
        await say(session)
        seen: list[RealtimeEvent] = []
        async with asyncio.timeout(PATIENCE):
            async for event in session.events():
                seen.append(event)
                if isinstance(event, SessionRenewed):
                    break
        assert not session.responding
    done = [e for e in seen if isinstance(e, AnswerDone)]
    assert len(done) == 1 and done[0].status == "incomplete"
    assert seen.index(done[0]) < len(seen) - 1


def test_the_model_goes_in_the_query_and_nothing_else_changes() -> None:
    assert with_model("wss://h/api-ws/v1/realtime", "m") == "wss://h/api-ws/v1/realtime?model=m"
    assert with_model("wss://h/r?model=x&a=1", " m ") == "wss://h/r?a=1&model=m"


def test_errors_are_upstream_errors() -> None:
    assert issubclass(AuthenticationFailed, UpstreamError)
    assert repr(AudioDelta(b"\x00" * 10_000)) == "AudioDelta(<10000 bytes>)"
    assert RealtimeUsage.from_payload({"input_tokens": 3}) == RealtimeUsage(3, 0, 0, 0, 3)
    assert RealtimeUsage.from_payload(None) is None


async def test_a_session_cut_by_the_service_is_a_dropped_connection(
    fake_realtime: FakeRealtime
) -> None:
    fake_realtime.session_limit_seconds = 0.5
    async with client_for(fake_realtime) as client, await client.open(options()) as session:
        with pytest.raises(UpstreamUnavailable, match="dropped"):
            await until_done(session)


async def test_renewal_comes_before_the_services_limit(fake_realtime: FakeRealtime) -> None:
    fake_realtime.session_limit_seconds = 6.0  # the service's cut
    fake_realtime.answer_seconds = 0.3
    async with client_for(fake_realtime, max_session_seconds=5.0) as client, \
            await client.open(options()) as session:
        async with asyncio.timeout(PATIENCE):
            async for event in session.events():
                if isinstance(event, SessionRenewed):
                    break
        await asyncio.sleep(1.5)  # past the first connection's cut
        await say(session)
        done = (await until_done(session))[-1]
    assert isinstance(done, AnswerDone) and done.status == "completed"
    assert fake_realtime.admitted == 2
