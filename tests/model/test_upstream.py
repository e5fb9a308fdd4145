"""The streamed completion's own bounds: a deadline that never eats a cancellation."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from omnicord.model.upstream import UpstreamUnavailable, stream_chunks


class _Stream:
    """An SDK stream stand-in whose next chunk is whatever future the test hands it."""

    def __init__(self) -> None:
        self.next: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self.closed = False

    async def __aenter__(self) -> _Stream:
        return self

    async def __aexit__(self, *exc: object) -> None:
        self.closed = True

    def __aiter__(self) -> _Stream:
        return self

    async def __anext__(self) -> Any:
        return await self.next


async def _consume(stream: _Stream, got: list[Any], timeout: float = 30) -> None:
    async def open_stream() -> _Stream:
        return stream

    async for chunk in stream_chunks(open_stream, model="m", total_timeout=timeout):
        got.append(chunk)
        stream.next = asyncio.get_running_loop().create_future()


async def test_a_cancel_that_meets_an_arriving_chunk_still_cancels() -> None:
    # asyncio.wait_for on Python 3.11 returns the inner result and drops the cancel when both
    # land in one loop pass: a stopped reply would then run to its end and be stored.
    stream, got = _Stream(), []
    task = asyncio.create_task(_consume(stream, got))
    await asyncio.sleep(0.01)
    stream.next.set_result("chunk")
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert stream.closed


async def test_a_stream_past_its_deadline_is_one_clear_error() -> None:
    stream, got = _Stream(), []
    with pytest.raises(UpstreamUnavailable, match="took more than"):
        await _consume(stream, got, timeout=0.05)
    assert got == [] and stream.closed
