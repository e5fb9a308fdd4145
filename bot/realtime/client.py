"""``RealtimeClient`` and ``RealtimeSession``: one WebSocket per live conversation with a
Qwen-Omni realtime model (aiohttp's client WebSocket: asyncio-native, no thread a session).

A session streams PCM16 16 kHz mono in, in 100 ms appends, and yields ``RealtimeEvent``s
(``omnicord.realtime.events``) from a reader task of its own. ``cancel`` is the barge-in: it
asks the service to stop the answer under way (only when one is: the API refuses a cancel
otherwise) and drops that answer's audio still queued. Before the service's time limit the
session moves to a new connection at a quiet moment (no speech, no answer under way) after
90% of the limit, or by force at 97%: the same ``session.update`` is sent again, audio given
meanwhile is held and sent on, and ``SessionRenewed`` is yielded. Every failure is an
``UpstreamError`` whose message is one line without the key.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import contextlib
import json
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from types import TracebackType
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import aiohttp
from omnicord.errors import RequestRefused, UpstreamError, UpstreamUnavailable
from omnicord.model.catalog import RealtimeModelSpec, find_realtime_model
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
from omnicord.realtime.protocol import (
    CANCEL_NOT_ACTIVE,
    CHUNK_BYTES,
    SessionOptions,
    VadSettings,
    audio_append,
    error_from_event,
    handshake_error,
    session_update,
    simple,
)

__all__ = ["CHUNK_BYTES", "RealtimeClient", "RealtimeSession", "SessionOptions",
           "VadSettings"]

log = logging.getLogger(__name__)

#: Awaited once before each session opens (``UpstreamPace`` is one): may wait, or raise.
Pace = Callable[[], Awaitable[None]]
#: Renew at the first quiet moment after this share of the session limit, or by force at
#: the second (before the service cuts the connection itself).
RENEW_FROM, RENEW_BY = 0.9, 0.97
#: How long ``close`` waits for ``session.finished`` before closing the socket anyway.
FINISH_WAIT = 3.0
_HEARTBEAT = 20.0
_MAX_MESSAGE = 16 * 1024 * 1024
_END = object()


class RealtimeClient:
    """Opens realtime sessions at ``url`` (``?model=`` is added per session) with the key."""

    def __init__(self, *, url: str, api_key: str, pace: Pace | None = None,
                 connect_timeout: float = 15.0, max_session_seconds: float | None = None
                 ) -> None:
        self.url = url
        self._api_key = api_key
        self._pace = pace
        self.connect_timeout = connect_timeout
        self.max_session_seconds = max_session_seconds
        self._http: aiohttp.ClientSession | None = None
        self._sessions: set[RealtimeSession] = set()

    def __repr__(self) -> str:
        return f"RealtimeClient(host={urlsplit(self.url).hostname!r})"

    async def open(self, options: SessionOptions) -> RealtimeSession:
        """Connect, send ``session.update`` and return once the service confirmed it.

        Raises RequestRefused (nothing sent) for an unknown model, a voice the model lacks or
        settings the API would refuse; an UpstreamError subclass when the service refuses or
        fails (the key refused: AuthenticationFailed).
        """
        model = find_realtime_model(options.model)
        voice = model.require_voice(options.voice or model.default_voice).name
        check_options(options)
        if self._pace is not None:
            await self._pace()
        session = RealtimeSession(self, model, options, voice)
        await session._start()
        self._sessions.add(session)
        return session

    async def aclose(self) -> None:
        """Close every open session, then the HTTP connections."""
        for session in list(self._sessions):
            await session.close()
        if self._http is not None:
            await self._http.close()
            self._http = None

    def _where(self) -> str:
        parts = urlsplit(self.url)
        if not parts.hostname:
            return ""
        return f" at {parts.hostname}:{parts.port}" if parts.port else f" at {parts.hostname}"

    async def _connect(self, model: str) -> aiohttp.ClientWebSocketResponse:
        """A WebSocket to the service for ``model``; the failures mapped."""
        if self._http is None or self._http.closed:
            self._http = aiohttp.ClientSession()
        where = self._where()
        try:
            async with asyncio.timeout(self.connect_timeout):
                return await self._http.ws_connect(
                    with_model(self.url, model), heartbeat=_HEARTBEAT,
                    max_msg_size=_MAX_MESSAGE,
                    headers={"Authorization": f"Bearer {self._api_key}"})
        except aiohttp.WSServerHandshakeError as error:
            raise handshake_error(error.status, model, where) from None
        except TimeoutError:
            raise UpstreamUnavailable(
                f"The realtime model service{where} did not answer within "
                f"{self.connect_timeout:.0f} s; try again shortly") from None
        except (aiohttp.ClientError, OSError) as error:
            raise UpstreamUnavailable(
                f"Could not reach the realtime model service{where} "
                f"({type(error).__name__}); try again shortly") from None


def with_model(url: str, model: str) -> str:
    """``url`` with its ``model`` query parameter set to ``model``."""
    parts = urlsplit(url)
    query = [(key, value) for key, value in parse_qsl(parts.query, keep_blank_values=True)
             if key != "model"]
    query.append(("model", model.strip()))
    return urlunsplit(parts._replace(query=urlencode(query)))


def check_options(options: SessionOptions) -> None:
    """RequestRefused for settings the API refuses (checked before connecting)."""
    if set(options.modalities) not in ({"text"}, {"text", "audio"}):
        raise RequestRefused("Realtime modalities must be text, or text and audio")
    vad = options.vad
    if vad is None:
        return
    if not 200 <= vad.silence_ms <= 6000:
        raise RequestRefused("The silence that ends a turn must be 200-6000 ms")
    if not 0.0 <= vad.threshold <= 1.0:
        raise RequestRefused("The speech threshold must be between 0 and 1")
    if vad.prefix_padding_ms < 0:
        raise RequestRefused("The speech prefix padding cannot be negative")


class RealtimeSession:
    """One live conversation; ``async with await client.open(options) as session``."""

    def __init__(self, client: RealtimeClient, model: RealtimeModelSpec,
                 options: SessionOptions, voice: str) -> None:
        self.model = model
        self.output_rate = model.output_rate
        self.options = options
        self.voice = voice
        self._client = client
        self._update = session_update(options, model, voice)
        self._queue: asyncio.Queue[Any] = asyncio.Queue()
        self._ws: aiohttp.ClientWebSocketResponse | None = None
        self._reader: asyncio.Task[None] | None = None
        self._watch: asyncio.Task[None] | None = None
        self._send_lock = asyncio.Lock()
        self._responding: str | None = None
        self._speaking = False
        self._pending = False  # the service committed a turn and has not begun its answer
        self._quiet = asyncio.Event()
        self._quiet.set()
        self._cancelled: set[str] = set()  # answers cancelled here: their deltas are dropped
        self._cancels_sent = 0
        self._transcripts: dict[str, list[str]] = {}
        self._odd_in = b""  # half a sample given to append, held for the next
        self._odd_out: dict[str, bytes] = {}
        self._switching = False
        self._held: list[bytes] = []
        self._finished = asyncio.Event()
        self._failure: UpstreamError | None = None
        self._closer: asyncio.Task[bool] | None = None
        self._closed = False
        self._connected_at = 0.0
        self.renewals = 0

    def __repr__(self) -> str:
        return f"RealtimeSession(model={self.model.name!r}, voice={self.voice!r})"

    async def __aenter__(self) -> RealtimeSession:
        return self

    async def __aexit__(self, kind: type[BaseException] | None, error: BaseException | None,
                        trace: TracebackType | None) -> None:
        await self.close()

    @property
    def responding(self) -> bool:
        """Whether an answer is under way (``response.created`` seen, ``response.done`` not)."""
        return self._responding is not None

    @property
    def session_seconds(self) -> float:
        """How long one connection may last before it is renewed."""
        return self._client.max_session_seconds or self.model.session_seconds

    # ---- opening and renewing

    async def _start(self) -> None:
        self._ws = await self._open_socket()
        self._reader = asyncio.create_task(self._read(self._ws), name="realtime-reader")
        self._watch = asyncio.create_task(self._renewals(), name="realtime-renewals")

    async def _open_socket(self) -> aiohttp.ClientWebSocketResponse:
        """A new connection on which the service confirmed this session's settings."""
        ws = await self._client._connect(self.options.model)
        try:
            async with asyncio.timeout(self._client.connect_timeout):
                await ws.send_str(json.dumps(self._update))
                await self._until_updated(ws)
        except TimeoutError:
            await ws.close()
            raise UpstreamUnavailable(
                f"The realtime model service{self._client._where()} did not confirm the "
                "session's settings; try again shortly") from None
        except BaseException:
            await ws.close()
            raise
        self._connected_at = asyncio.get_running_loop().time()
        return ws

    async def _until_updated(self, ws: aiohttp.ClientWebSocketResponse) -> None:
        while True:
            message = await ws.receive()
            if message.type != aiohttp.WSMsgType.TEXT:
                if message.type in (aiohttp.WSMsgType.BINARY, aiohttp.WSMsgType.PONG,
                                    aiohttp.WSMsgType.PING):
                    continue
                raise UpstreamUnavailable(
                    "The realtime model service closed the connection before the session "
                    "started; try again shortly")
            event = _parse(message.data)
            if event.get("type") == "session.updated":
                return
            if event.get("type") == "error":
                raise error_from_event(event, self.options.model)

    async def _renewals(self) -> None:
        """Renew the connection before the service's time limit, for as long as it runs."""
        loop = asyncio.get_running_loop()
        while not self._closed and self._failure is None:
            limit = self.session_seconds
            await asyncio.sleep(max(0.0, self._connected_at + limit * RENEW_FROM - loop.time()))
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout_at(self._connected_at + limit * RENEW_BY):
                    await self._quiet.wait()
            if self._closed or self._failure is not None:
                return
            await self._renew()

    async def _renew(self) -> None:
        self._switching = True
        old = self._ws
        try:
            new = await self._open_socket()
        except UpstreamError as error:
            self._switching = False
            self._fail(error)
            return
        if self._responding is not None:  # forced at the limit: that answer ends here
            self._end_answer(self._responding, "incomplete", None)
        self._speaking = self._pending = False
        self._update_quiet()
        self._ws = new
        self.renewals += 1
        self._reader = asyncio.create_task(self._read(new), name="realtime-reader")
        self._queue.put_nowait((None, SessionRenewed()))
        log.info("realtime session renewed (%s)", self.model.name)
        try:
            while self._held:
                await self._send_pcm(self._held.pop(0))
        finally:
            self._switching = False
        if old is not None:
            await _finish_quietly(old)

    # ---- reading

    async def _read(self, ws: aiohttp.ClientWebSocketResponse) -> None:
        try:
            while True:
                message = await ws.receive()
                if ws is not self._ws:  # an old connection, being closed after a renewal
                    if message.type in _ENDINGS:
                        return
                    continue
                if message.type == aiohttp.WSMsgType.TEXT:
                    try:
                        self._handle(_parse(message.data))
                    except UpstreamError as error:
                        self._fail(error)
                        return
                elif message.type in _ENDINGS:
                    break
        except (aiohttp.ClientError, OSError):
            pass
        if ws is self._ws and not self._closed:
            self._fail(UpstreamUnavailable(
                "The connection to the realtime model service dropped; try again"))

    def _handle(self, event: dict[str, Any]) -> None:
        kind = event.get("type")
        if kind == "error":
            error = event.get("error")
            code = error.get("code") if isinstance(error, dict) else None
            if code == CANCEL_NOT_ACTIVE and self._cancels_sent:
                self._cancels_sent -= 1  # the answer ended as the cancel went out
                return
            raise error_from_event(event, self.options.model)
        if kind == "input_audio_buffer.speech_started":
            self._speaking = True
            self._put(None, SpeechStarted(_int(event.get("audio_start_ms"))))
        elif kind == "input_audio_buffer.speech_stopped":
            self._speaking, self._pending = False, True
            self._put(None, SpeechStopped(_int(event.get("audio_end_ms"))))
        elif kind == "conversation.item.input_audio_transcription.completed":
            self._put(None, InputTranscript(str(event.get("transcript") or "")))
        elif kind == "response.created":
            response = event.get("response")
            rid = str(response.get("id") if isinstance(response, dict) else "") or "response"
            self._responding, self._pending = rid, False
            self._transcripts[rid] = []
            self._put(rid, AnswerStarted(rid))
        elif kind in ("response.audio_transcript.delta", "response.text.delta"):
            rid = self._response_of(event)
            text = str(event.get("delta") or "")
            if text and rid not in self._cancelled:
                self._transcripts.setdefault(rid, []).append(text)
                self._put(rid, TranscriptDelta(text))
        elif kind == "response.audio.delta":
            rid = self._response_of(event)
            pcm = self._pcm(rid, event.get("delta"))
            if pcm and rid not in self._cancelled:
                self._put(rid, AudioDelta(pcm))
        elif kind == "response.done":
            response = event.get("response")
            response = response if isinstance(response, dict) else {}
            rid = str(response.get("id") or self._responding or "response")
            self._end_answer(rid, str(response.get("status") or "completed"),
                             RealtimeUsage.from_payload(response.get("usage")))
        elif kind == "session.finished":
            self._finished.set()
        self._update_quiet()

    def _response_of(self, event: dict[str, Any]) -> str:
        return str(event.get("response_id") or self._responding or "response")

    def _pcm(self, rid: str, data: Any) -> bytes:
        if not isinstance(data, str):
            return b""
        try:
            pcm = self._odd_out.pop(rid, b"") + base64.b64decode(data, validate=True)
        except (binascii.Error, ValueError):
            raise UpstreamUnavailable("The realtime model service sent speech that could not "
                                      "be decoded; try again") from None
        whole = len(pcm) - len(pcm) % 2
        if whole < len(pcm):
            self._odd_out[rid] = pcm[whole:]
        return pcm[:whole]

    def _end_answer(self, rid: str, status: str, usage: RealtimeUsage | None) -> None:
        transcript = "".join(self._transcripts.pop(rid, []))
        self._odd_out.pop(rid, None)
        if self._responding == rid:
            self._responding = None
        self._put(rid, AnswerDone(rid, status, transcript, usage))

    def _put(self, rid: str | None, event: RealtimeEvent) -> None:
        self._queue.put_nowait((rid, event))

    def _update_quiet(self) -> None:
        if self._responding is None and not self._speaking and not self._pending:
            self._quiet.set()
        else:
            self._quiet.clear()

    def _fail(self, error: UpstreamError) -> None:
        if self._failure is not None or self._closed:
            return
        self._failure = error
        self._queue.put_nowait(error)
        ws = self._ws
        if ws is not None and not ws.closed:
            self._closer = asyncio.get_running_loop().create_task(ws.close())

    async def events(self) -> AsyncIterator[RealtimeEvent]:
        """What the service says, in order, until the session is closed; raises an
        UpstreamError subclass when the service sends an error or the connection drops.
        Audio and words of an answer ``cancel`` stopped are left out."""
        while True:
            item = await self._queue.get()
            if item is _END:
                self._queue.put_nowait(item)  # every later reader ends the same way
                return
            if isinstance(item, UpstreamError):
                self._queue.put_nowait(item)
                raise item
            rid, event = item
            if rid in self._cancelled:
                if isinstance(event, AnswerDone):
                    self._cancelled.discard(rid)
                elif isinstance(event, AudioDelta | TranscriptDelta):
                    continue
            yield event

    # ---- sending

    async def append(self, pcm16_16k_mono: bytes) -> None:
        """Stream PCM16 16 kHz mono to the service, in appends of at most 100 ms."""
        self._check_open()
        data = self._odd_in + pcm16_16k_mono
        whole = len(data) - len(data) % 2
        data, self._odd_in = data[:whole], data[whole:]
        if data:
            await self._send_pcm(data)

    async def _send_pcm(self, data: bytes) -> None:
        for start in range(0, len(data), CHUNK_BYTES):
            if self._switching and self._ws_is_old():
                self._held.append(data[start:])  # sent on the new connection
                return
            await self._send(audio_append(data[start:start + CHUNK_BYTES]))

    def _ws_is_old(self) -> bool:
        # During a renewal, until the held audio is flushed, appends wait in ``_held``; the
        # renewal's own flush sends on the new connection.
        return asyncio.current_task() is not self._watch

    async def cancel(self) -> None:
        """Barge-in: stop the answer under way (nothing is sent when there is none)."""
        rid = self._responding
        if rid is None or self._closed or self._failure is not None:
            return
        self._cancelled.add(rid)
        self._cancels_sent += 1
        await self._send(simple("response.cancel"))

    async def commit(self) -> None:
        """Manual mode: end the speaker's turn (the audio appended since the last one)."""
        self._check_open()
        await self._send(simple("input_audio_buffer.commit"))

    async def create_response(self) -> None:
        """Manual mode: ask for an answer to the committed turn."""
        self._check_open()
        await self._send(simple("response.create"))

    def _check_open(self) -> None:
        if self._failure is not None:
            raise self._failure
        if self._closed:
            raise UpstreamUnavailable("The realtime session is closed")

    async def _send(self, event: dict[str, Any]) -> None:
        async with self._send_lock:
            ws = self._ws
            if ws is None or ws.closed:
                self._fail(UpstreamUnavailable(
                    "The connection to the realtime model service dropped; try again"))
                self._check_open()
                return
            try:
                await ws.send_str(json.dumps(event))
            except (aiohttp.ClientError, ConnectionError, RuntimeError):
                self._fail(UpstreamUnavailable(
                    "The connection to the realtime model service dropped; try again"))
                self._check_open()

    # ---- closing

    async def close(self) -> None:
        """``session.finish``, then close the socket; again: nothing."""
        if self._closed:
            return
        self._closed = True
        current = asyncio.current_task()
        if self._watch is not None and self._watch is not current:
            self._watch.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._watch
        ws = self._ws
        if ws is not None and not ws.closed and self._failure is None:
            with contextlib.suppress(aiohttp.ClientError, ConnectionError, RuntimeError,
                                     TimeoutError):
                async with asyncio.timeout(FINISH_WAIT):
                    await ws.send_str(json.dumps(simple("session.finish")))
                    await self._finished.wait()
        if ws is not None:
            with contextlib.suppress(aiohttp.ClientError, ConnectionError, RuntimeError):
                await ws.close()
        if self._reader is not None and self._reader is not current:
            self._reader.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._reader
        self._queue.put_nowait(_END)
        self._client._sessions.discard(self)


_ENDINGS = (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSING, aiohttp.WSMsgType.CLOSED,
            aiohttp.WSMsgType.ERROR)


async def _finish_quietly(ws: aiohttp.ClientWebSocketResponse) -> None:
    """End a connection a renewal replaced: ``session.finish``, then close."""
    with contextlib.suppress(aiohttp.ClientError, ConnectionError, RuntimeError, TimeoutError):
        async with asyncio.timeout(FINISH_WAIT):
            await ws.send_str(json.dumps(simple("session.finish")))
            await ws.close()


def _parse(data: str) -> dict[str, Any]:
    try:
        event = json.loads(data)
    except ValueError:
        event = None
    if not isinstance(event, dict):
        raise UpstreamUnavailable("The realtime model service sent an event that could not "
                                  "be read; try again")
    return event


def _int(value: Any) -> int:
    return int(value) if isinstance(value, int | float) and not isinstance(value, bool) else 0
