"""``FakeRealtime``: a real WebSocket server on 127.0.0.1 (aiohttp, in a thread with its own
loop, like ``FakeDashScope``) speaking DashScope's realtime protocol: the handshake, the
client events checked as the vendor documents them, an energy VAD over the audio received,
and answers as the service streams them (a tone at the model's output rate, with its
transcript), paced and faulted as a test asks."""

from __future__ import annotations

import array
import asyncio
import base64
import contextlib
import json
import math
import threading
import time
from typing import Any

from aiohttp import WSMsgType, web

from tests.doubles.fake_realtime.rules import (
    CLIENT_EVENTS,
    INPUT_RATE,
    MODELS,
    Invalid,
    RealtimeModel,
    check_session,
    decode_audio,
    decode_image,
    error_event,
)
from tests.doubles.fake_realtime.vad import EnergyVad

PATH = "/api-ws/v1/realtime"
MiB = 1024 * 1024
DEFAULT_SILENCE_MS = 800
#: The shortest turn ``input_audio_buffer.commit`` takes (as OpenAI's realtime API).
MIN_COMMIT_MS = 100


def tone(seconds: float, rate: int, freq: float = 440.0) -> bytes:
    """A sine tone as PCM16 mono at ``rate``."""
    count = round(seconds * rate)
    return array.array("h", (round(8000 * math.sin(2 * math.pi * freq * i / rate))
                             for i in range(count))).tobytes()


class FakeRealtime:
    """The local stand-in for ``wss://dashscope-intl.aliyuncs.com/api-ws/v1/realtime``.

    Knobs (``reset`` restores them): ``answer_text`` (None: "You spoke for N.N seconds. …"),
    ``input_transcript`` (None: "Hello, I spoke for N.N seconds."), ``answer_seconds`` (length
    of the spoken answer), ``audio_chunk_ms`` (per ``response.audio.delta``),
    ``delta_interval`` (seconds between audio deltas: a slow answer to barge in on),
    ``first_audio_delay`` (seconds before the first audio delta), ``rms_threshold`` (the VAD's
    speech level, int16 RMS). Faults: ``refuse_key`` (every handshake gets HTTP 401),
    ``error_after_events`` (an error event, ``error_code``/``error_type``/``error_message``,
    after that many server events on a connection), ``drop_after_audio_deltas`` (the
    connection is cut after that many audio deltas), ``session_limit_seconds`` (the service
    cuts a connection this long after it opened).

    Records: ``handshakes`` (every attempt: model, whether admitted, HTTP status),
    ``received`` (every client event, with ``_connection``), ``sent`` (every server event,
    with ``_connection`` and ``_at``, a ``time.monotonic()``), ``vad_silence_ms`` (the last
    session's silence window).
    """

    def __init__(self, api_key: str = "sk-test") -> None:
        self.api_key = api_key
        self.handshakes: list[dict[str, Any]] = []
        self.received: list[dict[str, Any]] = []
        self.sent: list[dict[str, Any]] = []
        self._lock = threading.Lock()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._runner: web.AppRunner | None = None
        self._port: int | None = None
        self._connections: set[_Connection] = set()
        self.reset()

    # ---- knobs and records

    def reset(self) -> None:
        """Clear the records and faults; every knob back to its default."""
        with self._lock:
            self.handshakes.clear()
            self.received.clear()
            self.sent.clear()
        self.answer_text: str | None = None
        self.input_transcript: str | None = None
        self.answer_seconds = 1.0
        self.audio_chunk_ms = 100
        self.delta_interval = 0.0
        self.first_audio_delay = 0.0
        self.rms_threshold = 500.0
        self.vad_silence_ms = DEFAULT_SILENCE_MS
        self.refuse_key = False
        self.error_after_events: int | None = None
        self.error_code = "internal_error"
        self.error_type = "server_error"
        self.error_message = "The server had an error while processing your request."
        self.drop_after_audio_deltas: int | None = None
        self.session_limit_seconds: float | None = None

    def received_types(self, connection: int | None = None) -> list[str]:
        """The types of the client events received (on one connection, or all)."""
        with self._lock:
            return [e.get("type", "?") for e in self.received
                    if connection is None or e["_connection"] == connection]

    def sent_types(self, connection: int | None = None) -> list[str]:
        """The types of the server events sent (on one connection, or all)."""
        with self._lock:
            return [e["type"] for e in self.sent
                    if connection is None or e["_connection"] == connection]

    def received_of(self, kind: str) -> list[dict[str, Any]]:
        """The client events of one type, in order."""
        with self._lock:
            return [e for e in self.received if e.get("type") == kind]

    def appended_sizes(self) -> list[int]:
        """The decoded size of every ``input_audio_buffer.append``, in order."""
        return [len(base64.b64decode(e["audio"])) for e in self.received_of(
            "input_audio_buffer.append") if isinstance(e.get("audio"), str)]

    @property
    def admitted(self) -> int:
        """Connections accepted so far."""
        with self._lock:
            return sum(1 for h in self.handshakes if h["admitted"])

    # ---- lifecycle

    @property
    def url(self) -> str:
        """The endpoint, without ``?model=`` (the client adds it)."""
        if self._port is None:
            raise RuntimeError("FakeRealtime is not started")
        return f"ws://127.0.0.1:{self._port}{PATH}"

    def start(self) -> None:
        """Start the server thread and wait until it listens."""
        if self._thread is not None:
            return
        ready = threading.Event()
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._run, args=(ready,), daemon=True,
                                        name="fake-realtime")
        self._thread.start()
        if not ready.wait(15) or self._port is None:
            self.stop()
            raise RuntimeError("FakeRealtime failed to start")

    def stop(self) -> None:
        """Stop the server and its thread."""
        loop, thread = self._loop, self._thread
        if loop is None or thread is None:
            return
        if loop.is_running():
            with contextlib.suppress(Exception):
                asyncio.run_coroutine_threadsafe(self._shutdown(), loop).result(15)
            loop.call_soon_threadsafe(loop.stop)
        thread.join(15)
        self._loop = self._thread = None
        self._port = None

    def __enter__(self) -> FakeRealtime:
        self.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def _run(self, ready: threading.Event) -> None:
        loop = self._loop
        assert loop is not None
        asyncio.set_event_loop(loop)
        try:
            loop.run_until_complete(self._serve())
        finally:
            ready.set()
        try:
            loop.run_forever()
        finally:
            loop.run_until_complete(loop.shutdown_asyncgens())
            loop.close()

    async def _serve(self) -> None:
        app = web.Application()
        app.router.add_get(PATH, self._handle)
        self._runner = web.AppRunner(app, access_log=None, shutdown_timeout=1.0)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self._port = self._runner.addresses[0][1]

    async def _shutdown(self) -> None:
        for connection in list(self._connections):
            connection.abort()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None
        current = asyncio.current_task()
        pending = [task for task in asyncio.all_tasks() if task is not current]
        for task in pending:
            task.cancel()
        await asyncio.gather(*pending, return_exceptions=True)

    # ---- connections

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        model_name = request.query.get("model", "")
        authorized = (request.headers.get("Authorization", "") == f"Bearer {self.api_key}"
                      and not self.refuse_key)
        model = MODELS.get(model_name)
        status = 101 if authorized and model is not None else 401 if not authorized else 404
        with self._lock:
            index = len(self.handshakes)
            self.handshakes.append({"model": model_name, "admitted": status == 101,
                                    "status": status})
        if not authorized:
            return web.json_response({"code": "InvalidApiKey",
                                      "message": "Invalid API-key provided."}, status=401)
        if model is None:
            return web.json_response({"code": "ModelNotFound", "message": f"Model "
                                      f"{model_name!r} does not exist."}, status=404)
        ws = web.WebSocketResponse(max_msg_size=16 * MiB)
        await ws.prepare(request)
        connection = _Connection(self, request, ws, model, index)
        self._connections.add(connection)
        try:
            await connection.run()
        finally:
            self._connections.discard(connection)
        return ws

    def _record(self, into: list[dict[str, Any]], event: dict[str, Any]) -> None:
        with self._lock:
            into.append(event)


class _Connection:
    """One client's session on the fake."""

    def __init__(self, server: FakeRealtime, request: web.Request, ws: web.WebSocketResponse,
                 model: RealtimeModel, index: int) -> None:
        self.server = server
        self.request = request
        self.ws = ws
        self.model = model
        self.index = index
        self.session: dict[str, Any] = {
            "object": "realtime.session", "model": model.name,
            "modalities": ["text", "audio"], "voice": model.default_voice,
            "instructions": "", "input_audio_format": "pcm16",
            "output_audio_format": model.output_formats[-1],
            "input_audio_transcription": {"model": "gummy-realtime-v1"},
            "turn_detection": {"type": "server_vad", "threshold": 0.5,
                               "prefix_padding_ms": 300,
                               "silence_duration_ms": DEFAULT_SILENCE_MS,
                               "create_response": True, "interrupt_response": True},
            "id": f"sess_fake_{index}",
        }
        self.vad: EnergyVad | None = EnergyVad(DEFAULT_SILENCE_MS, server.rms_threshold)
        self.buffer = b""  # audio since the last commit
        self.audio_seen = False
        self.events_sent = 0
        self.error_sent = False
        self.audio_deltas = 0
        self.items = 0
        self.responses = 0
        self.running: asyncio.Task[None] | None = None
        self.cancel_requested = False
        self.committed_seconds = 0.0
        self.finished = False
        self._send_lock = asyncio.Lock()
        self._tasks: set[asyncio.Task[None]] = set()

    def abort(self) -> None:
        transport = self.request.transport
        if transport is not None:
            transport.abort()

    async def send(self, event: dict[str, Any]) -> None:
        async with self._send_lock:
            if self.ws.closed:
                return
            await self._send_one(event)
            fault = self.server.error_after_events
            if fault is not None and not self.error_sent and self.events_sent >= fault:
                self.error_sent = True
                await self._send_one(error_event(self.server.error_code,
                                                 self.server.error_message,
                                                 kind=self.server.error_type))

    async def _send_one(self, event: dict[str, Any]) -> None:
        self.events_sent += 1
        event = {"event_id": f"event_{self.index}_{self.events_sent}", **event}
        self.server._record(self.server.sent, {**event, "_connection": self.index,
                                               "_at": time.monotonic()})
        with contextlib.suppress(ConnectionError, RuntimeError):
            await self.ws.send_str(json.dumps(event))

    async def run(self) -> None:
        limit = self.server.session_limit_seconds
        if limit is not None:
            self._spawn(self._cut_after(limit))
        await self.send({"type": "session.created", "session": dict(self.session)})
        try:
            async for message in self.ws:
                if message.type != WSMsgType.TEXT:
                    continue
                try:
                    event = json.loads(message.data)
                except ValueError:
                    event = None
                self.server._record(self.server.received, {
                    **(event if isinstance(event, dict) else {"_invalid": True}),
                    "_connection": self.index})
                try:
                    await self.dispatch(event)
                except Invalid as error:
                    await self.send(error_event(error.code, error.message, error.param))
                if self.finished:
                    break
        finally:
            for task in list(self._tasks):
                task.cancel()
            await asyncio.gather(*self._tasks, return_exceptions=True)
            if self.finished:
                await self.ws.close()

    def _spawn(self, coroutine: Any) -> asyncio.Task[None]:
        task: asyncio.Task[None] = asyncio.create_task(coroutine)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    async def _cut_after(self, seconds: float) -> None:
        await asyncio.sleep(seconds)
        self.abort()

    async def dispatch(self, event: Any) -> None:
        if not isinstance(event, dict):
            raise Invalid("invalid_json", "The event is not a JSON object.")
        kind = event.get("type")
        if kind not in CLIENT_EVENTS:
            raise Invalid("invalid_event_type", f"Invalid event type: {kind!r}", "type")
        if kind == "session.update":
            await self.update(event.get("session"))
        elif kind == "input_audio_buffer.append":
            await self.append(decode_audio(event))
        elif kind == "input_audio_buffer.commit":
            await self.commit_manual()
        elif kind == "input_audio_buffer.clear":
            self.buffer = b""
            await self.send({"type": "input_audio_buffer.cleared"})
        elif kind == "input_image_buffer.append":
            if not self.audio_seen:
                raise Invalid("invalid_request", "An image can only be appended after some "
                              "audio.", "image")
            decode_image(event)
        elif kind == "response.create":
            if self.running is not None and not self.running.done():
                raise Invalid("conversation_already_has_active_response",
                              "Conversation already has an active response")
            self.start_response(self.committed_seconds)
        elif kind == "response.cancel":
            if self.running is None or self.running.done():
                raise Invalid("response_cancel_not_active",
                              "Cancellation failed: no active response found")
            self.cancel_requested = True
        elif kind == "session.finish":
            await self.send({"type": "session.finished"})
            self.finished = True

    async def update(self, session: Any) -> None:
        checked = check_session(session, self.model)
        self.session.update(checked)
        detection = self.session.get("turn_detection")
        if detection is None:
            self.vad = None
        else:
            silence = detection.get("silence_duration_ms", DEFAULT_SILENCE_MS)
            self.server.vad_silence_ms = silence
            self.vad = EnergyVad(silence, self.server.rms_threshold)
        await self.send({"type": "session.updated", "session": dict(self.session)})

    async def append(self, pcm: bytes) -> None:
        self.audio_seen = True
        self.buffer += pcm
        if self.vad is None:
            return
        for turn in self.vad.feed(pcm):
            item_id = f"item_{self.index}_{self.items + 1}"
            if turn.kind == "started":
                await self.send({"type": "input_audio_buffer.speech_started",
                                 "audio_start_ms": turn.at_ms, "item_id": item_id})
                continue
            await self.send({"type": "input_audio_buffer.speech_stopped",
                             "audio_end_ms": turn.at_ms, "item_id": item_id})
            seconds = max(0.0, (turn.at_ms - turn.start_ms - self.vad.silence_ms) / 1000)
            await self.commit(seconds)
            self.start_response(seconds)

    async def commit_manual(self) -> None:
        ms = len(self.buffer) / (INPUT_RATE * 2) * 1000
        if ms < MIN_COMMIT_MS:
            raise Invalid("input_audio_buffer_commit_empty",
                          f"Error committing input audio buffer: buffer too small. Expected at "
                          f"least {MIN_COMMIT_MS}ms of audio, but buffer only has {ms:.2f}ms of "
                          "audio.")
        await self.commit(ms / 1000)

    async def commit(self, seconds: float) -> None:
        self.items += 1
        item_id = f"item_{self.index}_{self.items}"
        self.buffer = b""
        self.committed_seconds = seconds
        await self.send({"type": "input_audio_buffer.committed", "item_id": item_id})
        await self.send({"type": "conversation.item.created", "item": {
            "id": item_id, "object": "realtime.item", "type": "message", "status": "completed",
            "role": "user", "content": [{"type": "input_audio"}]}})
        heard = self.server.input_transcript
        if heard is None:
            heard = f"Hello, I spoke for {seconds:.1f} seconds."
        await self.send({"type": "conversation.item.input_audio_transcription.completed",
                         "item_id": item_id, "content_index": 0, "transcript": heard})

    def start_response(self, heard_seconds: float) -> None:
        previous = self.running
        self.running = self._spawn(self.respond(previous, heard_seconds))

    async def respond(self, previous: asyncio.Task[None] | None, heard_seconds: float) -> None:
        if previous is not None:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await previous
        self.cancel_requested = False
        self.responses += 1
        rid = f"resp_{self.index}_{self.responses}"
        item_id = f"item_{self.index}_answer_{self.responses}"
        speaks = "audio" in self.session.get("modalities", [])
        text = self.server.answer_text
        if text is None:
            text = f"You spoke for {heard_seconds:.1f} seconds. Here is my answer."
        rate = self.model.output_rate
        pcm = tone(self.server.answer_seconds, rate) if speaks else b""
        step = max(2, rate * 2 * self.server.audio_chunk_ms // 1000)
        chunks = [pcm[i:i + step] for i in range(0, len(pcm), step)] or [b""]
        words = text.split(" ")
        per = max(1, math.ceil(len(words) / len(chunks)))
        pieces = [" ".join(words[i:i + per]) + (" " if i + per < len(words) else "")
                  for i in range(0, len(words), per)]
        where = {"response_id": rid, "item_id": item_id, "output_index": 0,
                 "content_index": 0}
        item = {"id": item_id, "object": "realtime.item", "type": "message",
                "status": "in_progress", "role": "assistant", "content": []}
        await self.send({"type": "response.created", "response": {
            "id": rid, "object": "realtime.response", "status": "in_progress", "output": []}})
        await self.send({"type": "response.output_item.added", "response_id": rid,
                         "output_index": 0, "item": item})
        await self.send({"type": "response.content_part.added", **where,
                         "part": {"type": "audio" if speaks else "text", "transcript": ""}})
        said: list[str] = []
        status = "completed"
        delta_type = "response.audio_transcript.delta" if speaks else "response.text.delta"
        for index, chunk in enumerate(chunks):
            if self.cancel_requested:
                status = "cancelled"
                break
            if index < len(pieces):
                said.append(pieces[index])
                await self.send({"type": delta_type, **where, "delta": pieces[index]})
            if not chunk:
                continue
            delay = self.server.first_audio_delay if index == 0 else self.server.delta_interval
            if delay:
                await asyncio.sleep(delay)
                if self.cancel_requested:
                    status = "cancelled"
                    break
            await self.send({"type": "response.audio.delta", **where,
                             "delta": base64.b64encode(chunk).decode("ascii")})
            self.audio_deltas += 1
            drop = self.server.drop_after_audio_deltas
            if drop is not None and self.audio_deltas >= drop:
                self.abort()
                return
        if status == "completed":
            for piece in pieces[len(chunks):]:
                said.append(piece)
                await self.send({"type": delta_type, **where, "delta": piece})
            transcript = "".join(said)
            if speaks:
                await self.send({"type": "response.audio_transcript.done", **where,
                                 "transcript": transcript})
                await self.send({"type": "response.audio.done", **where})
            else:
                await self.send({"type": "response.text.done", **where, "text": transcript})
            await self.send({"type": "response.content_part.done", **where,
                             "part": {"type": "audio" if speaks else "text",
                                      "transcript": transcript}})
        transcript = "".join(said)
        item = {**item, "status": "completed" if status == "completed" else "incomplete",
                "content": [{"type": "audio" if speaks else "text", "transcript": transcript}]}
        await self.send({"type": "response.output_item.done", "response_id": rid,
                         "output_index": 0, "item": item})
        await self.send({"type": "response.done", "response": {
            "id": rid, "object": "realtime.response", "status": status,
            "status_details": None if status == "completed" else {"type": status,
                                                                  "reason": "client_cancelled"},
            "output": [item],
            "usage": self.usage(heard_seconds, transcript, len(pcm) / (rate * 2)),
        }})

    def usage(self, heard_seconds: float, transcript: str, spoken_seconds: float
              ) -> dict[str, Any]:
        instructions = self.session.get("instructions") or ""
        input_audio = math.ceil(heard_seconds * 25)
        input_text = math.ceil(len(instructions) / 4)
        output_audio = math.ceil(spoken_seconds * 12.5)
        output_text = len(transcript.split())
        return {
            "total_tokens": input_audio + input_text + output_audio + output_text,
            "input_tokens": input_audio + input_text,
            "output_tokens": output_audio + output_text,
            "input_token_details": {"text_tokens": input_text, "audio_tokens": input_audio,
                                    "image_tokens": 0, "cached_tokens": 0},
            "output_token_details": {"text_tokens": output_text, "audio_tokens": output_audio},
        }
