"""``FakeDashScope``, the aiohttp app on 127.0.0.1 in a thread of its own, and its fault
injection (``Fault``): admission (API key, body size, status faults, JSON, model, the rules),
then a streamed or whole reply, cut, delayed, trickled or broken as the fault says."""

from __future__ import annotations

import asyncio
import contextlib
import json
import threading
import uuid
from dataclasses import dataclass
from typing import Any

from aiohttp import web

from tests.doubles.fake_dashscope.replies import (
    AUDIO_SECONDS_PER_CHAR,
    MAX_AUDIO_SECONDS,
    SAMPLE_RATE,
    _Plan,
    _sse,
    completion_body,
    cut_at_output_limit,
    default_reply,
    output_limit,
    reasoning_for,
    stream_chunks,
)
from tests.doubles.fake_dashscope.rules import (
    API_PREFIX,
    MAX_BODY_BYTES,
    MB,
    MODELS,
    Analysis,
    Rejection,
    _bad,
    analyze,
    error_body,
)

INSPECTION_MESSAGE = "Output data may contain inappropriate content."


# --------------------------------------------------------------------------- public types


@dataclass
class Fault:
    """One-shot or persistent fault injection (see the package docstring)."""

    status: int | None = None
    code: str | None = None
    message: str | None = None
    cut_after_chunks: int | None = None
    first_token_delay: float = 0.0
    times: int = 1
    error_event: bool = False
    garbage_at_chunk: int | None = None  # this chunk's data line is not JSON
    trickle_every: float | None = None  # after the first chunk, one more every N s, for ever
    model: str | None = None  # only requests for this model (None: any request)


DEFAULT_FAULT_CODES = {
    400: ("InvalidParameter", "The request is invalid."),
    401: ("InvalidApiKey", "Invalid API-key provided."),
    403: ("AccessDenied", "Access denied."),
    404: ("ModelNotFound", "The model does not exist or you do not have access to it."),
    429: ("Throttling.RateQuota", "Requests rate limit exceeded, please try again later."),
    500: ("InternalError", "An internal error has occured, please try again later."),
    503: ("ServiceUnavailable", "The service is temporarily unavailable."),
}


# --------------------------------------------------------------------------- the server


class FakeDashScope:
    """A real local HTTP server speaking DashScope's OpenAI-compatible chat API."""

    def __init__(self, api_key: str = "sk-test", token_delay: float = 0.0,
                 reply_delay: float = 0.0) -> None:
        self.api_key = api_key
        self.token_delay = token_delay
        self.reply_delay = reply_delay  # the model's time to first token, on every stream
        self._default_reply_delay = reply_delay
        self._default_token_delay = token_delay
        self.reply_text: str | None = None
        self.max_body_bytes = MAX_BODY_BYTES
        self.requests: list[dict[str, Any]] = []
        self.accepted: list[dict[str, Any]] = []
        self.rejections: list[tuple[int, dict[str, Any]]] = []
        self._faults: list[Fault] = []
        self._lock = threading.Lock()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._runner: web.AppRunner | None = None
        self._port: int | None = None
        self._startup_error: BaseException | None = None

    # ---- lifecycle

    @property
    def base_url(self) -> str:
        if self._port is None:
            raise RuntimeError("FakeDashScope is not started")
        return f"http://127.0.0.1:{self._port}{API_PREFIX}"

    def start(self) -> None:
        """Start the server thread and wait until it listens."""
        if self._thread is not None:
            return
        ready = threading.Event()
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._run, args=(ready,), daemon=True,
                                        name="fake-dashscope")
        self._thread.start()
        if not ready.wait(15) or self._startup_error is not None:
            self.stop()
            raise RuntimeError("FakeDashScope failed to start") from self._startup_error

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

    async def _shutdown(self) -> None:
        """Close the listener, then cancel handlers still running (e.g. a delayed reply)."""
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None
        current = asyncio.current_task()
        pending = [task for task in asyncio.all_tasks() if task is not current]
        for task in pending:
            task.cancel()
        await asyncio.gather(*pending, return_exceptions=True)

    def __enter__(self) -> FakeDashScope:
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
        except BaseException as exc:
            self._startup_error = exc
            ready.set()
            loop.close()
            return
        ready.set()
        try:
            loop.run_forever()
        finally:
            if self._runner is not None:
                loop.run_until_complete(self._runner.cleanup())
            loop.run_until_complete(loop.shutdown_asyncgens())
            loop.run_until_complete(loop.shutdown_default_executor())
            loop.close()

    async def _serve(self) -> None:
        app = web.Application(client_max_size=1024 * MB)
        app.router.add_post(f"{API_PREFIX}/chat/completions", self._handle)
        self._runner = web.AppRunner(app, access_log=None, shutdown_timeout=1.0)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self._port = self._runner.addresses[0][1]

    # ---- test controls

    def reset(self) -> None:
        """Clear recorded requests, faults and overrides (reply text, delays, limits)."""
        with self._lock:
            self.requests.clear()
            self.accepted.clear()
            self.rejections.clear()
            self._faults.clear()
        self.reply_text = None
        self.token_delay = self._default_token_delay
        self.reply_delay = self._default_reply_delay
        self.max_body_bytes = MAX_BODY_BYTES

    def add_fault(self, fault: Fault) -> None:
        """Queue a fault; faults apply in the order they were added."""
        with self._lock:
            self._faults.append(fault)

    @staticmethod
    def expected_audio_seconds(text: str) -> float:
        """Length of the speech streamed for ``text`` (whole samples at 24 kHz)."""
        seconds = min(len(text) * AUDIO_SECONDS_PER_CHAR, MAX_AUDIO_SECONDS)
        return round(seconds * SAMPLE_RATE) / SAMPLE_RATE

    def _take_fault(self, *, status: bool, model: object = None) -> Fault | None:
        with self._lock:
            for fault in self._faults:
                if fault.model is not None and fault.model != model:
                    continue
                if (fault.status is not None) == status and fault.times != 0:
                    if fault.times > 0:
                        fault.times -= 1
                        if fault.times == 0:
                            self._faults.remove(fault)
                    return fault
        return None

    # ---- request handling

    def _reject(self, exc: Rejection) -> web.Response:
        body = error_body(exc.status, exc.code, exc.message)
        with self._lock:
            self.rejections.append((exc.status, body))
        return web.json_response(body, status=exc.status,
                                 headers={"x-request-id": body["request_id"]})

    def _record(self, raw: bytes) -> dict[str, Any] | None:
        try:
            body = json.loads(raw)
        except (ValueError, UnicodeDecodeError):
            body = None
        record = body if isinstance(body, dict) else {"_invalid_json": raw[:200].decode(
            "utf-8", "replace")}
        with self._lock:
            self.requests.append(record)
        return body if isinstance(body, dict) else None

    def _check_auth(self, request: web.Request) -> None:
        if request.headers.get("Authorization", "") != f"Bearer {self.api_key}":
            raise Rejection(401, "InvalidApiKey", "Invalid API-key provided.")

    async def _admit(self, request: web.Request, raw: bytes,
                     body: dict[str, Any] | None) -> Analysis:
        self._check_auth(request)
        if len(raw) > self.max_body_bytes:
            raise _bad(f"max bytes to request body : {self.max_body_bytes}")
        fault = self._take_fault(status=True, model=(body or {}).get("model"))
        if fault is not None:
            await asyncio.sleep(fault.first_token_delay)
            default_code, default_message = DEFAULT_FAULT_CODES.get(
                fault.status or 500, ("InternalError", "Injected fault."))
            raise Rejection(fault.status or 500, fault.code or default_code,
                            fault.message or default_message)
        if body is None:
            raise _bad("The request body is not a valid JSON object.")
        model = body.get("model")
        spec = MODELS.get(model) if isinstance(model, str) else None
        if spec is None:
            raise Rejection(404, "ModelNotFound",
                            f"The model `{model}` does not exist or you do not have access to it.")
        try:
            return await asyncio.to_thread(analyze, body, spec)
        except Rejection:
            raise
        except Exception as exc:  # a body shape the checks did not foresee: make it loud
            raise Rejection(500, "InternalError",
                            f"fake_dashscope could not validate the request: {exc!r}") from exc

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        raw = await request.read()
        body = self._record(raw)
        try:
            analysis = await self._admit(request, raw, body)
        except Rejection as exc:
            return self._reject(exc)
        assert body is not None
        with self._lock:
            self.accepted.append(body)
        plan = self._plan(body, analysis)
        fault = self._take_fault(status=False, model=body.get("model"))
        if body.get("stream") is True:
            return await self._stream(request, plan, fault)
        return await self._complete(request, plan, fault)

    def _plan(self, body: dict[str, Any], analysis: Analysis) -> _Plan:
        reply = self.reply_text if self.reply_text is not None else default_reply(analysis)
        reply, finish = cut_at_output_limit(reply, output_limit(body, MODELS[body["model"]]))
        seconds = self.expected_audio_seconds(reply) if analysis.audio_out else 0.0
        options = body.get("stream_options")
        include_usage = isinstance(options, dict) and options.get("include_usage") is True
        return _Plan(model=body["model"], reply=reply,
                     reasoning=reasoning_for(analysis) if analysis.thinking else "",
                     audio_samples=round(seconds * SAMPLE_RATE),
                     include_usage=include_usage, analysis=analysis, finish=finish)

    @staticmethod
    def _abort(request: web.Request) -> None:
        transport = request.transport
        if transport is not None:
            transport.abort()

    async def _complete(self, request: web.Request, plan: _Plan,
                        fault: Fault | None) -> web.StreamResponse:
        if fault is not None:
            await asyncio.sleep(fault.first_token_delay)
            if fault.cut_after_chunks is not None:
                self._abort(request)
                return web.Response(status=500)
            if fault.error_event:
                return self._reject(Rejection(400, fault.code or "DataInspectionFailed",
                                              fault.message or INSPECTION_MESSAGE))
        return web.json_response(completion_body(plan))

    async def _stream(self, request: web.Request, plan: _Plan,
                      fault: Fault | None) -> web.StreamResponse:
        resp = web.StreamResponse(headers={
            "Content-Type": "text/event-stream;charset=UTF-8",
            "Cache-Control": "no-cache",
            "x-request-id": str(uuid.uuid4()),
        })
        await resp.prepare(request)
        with contextlib.suppress(ConnectionError):
            await self._write_events(request, resp, plan, fault)
        return resp

    async def _write_events(self, request: web.Request, resp: web.StreamResponse,
                            plan: _Plan, fault: Fault | None) -> None:
        delay = fault.first_token_delay if fault is not None else 0.0
        if delay or self.reply_delay:
            await asyncio.sleep(delay or self.reply_delay)
        for index, chunk in enumerate(stream_chunks(plan)):
            if fault is not None and fault.cut_after_chunks is not None \
                    and index >= fault.cut_after_chunks:
                self._abort(request)
                return
            if fault is not None and fault.error_event and index == 1:
                error = error_body(400, fault.code or "DataInspectionFailed",
                                   fault.message or INSPECTION_MESSAGE)
                await resp.write(_sse(error))
                await resp.write_eof()
                return
            if fault is not None and fault.garbage_at_chunk == index:
                await resp.write(b'data: {"id": "chatcmpl-1", "choices": [{"delta": {\n\n')
                continue
            if fault is not None and fault.trickle_every and index == 1:
                while True:  # until the client gives up and disconnects
                    await resp.write(_sse(chunk))
                    await asyncio.sleep(fault.trickle_every)
            if index and self.token_delay:
                await asyncio.sleep(self.token_delay)
            await resp.write(_sse(chunk))
        await resp.write(b"data: [DONE]\n\n")
        await resp.write_eof()
