"""Reply latency benchmark: what the bot adds on top of the model's own stream, one run.

    .venv/bin/python bench/reply.py [--delay SECONDS] [--runs N]

Against the offline DashScope server with a fixed delay per streamed chunk, it compares:
- a raw SDK client on the same stream: time to the first text delta, and to the stream's end;
- the bot (every cog loaded, simulated gateway, Discord HTTP captured on a local server): time
  from the member's message to the first visible text (the first message POST), and to the
  voice message POST.
Goals: at most 100 ms added to the first text; the voice message encoded in at most 5% of the
clip's duration.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import openai  # noqa: E402
from omnicord.media.speech import encode_speech, pcm_seconds  # noqa: E402

from tests.doubles.fake_dashscope import FakeDashScope  # noqa: E402
from tests.doubles.omnicord_bot import World, running_world  # noqa: E402

QUESTION = "please describe the weather in some detail today"
REPLY = " ".join(f"word{i}" for i in range(45))


async def raw_sdk(server: FakeDashScope) -> tuple[float, float]:
    """Seconds to the first text delta and to the end, for a plain streaming SDK call."""
    client = openai.AsyncOpenAI(api_key=server.api_key, base_url=server.base_url, max_retries=0)
    start = time.monotonic()
    first = None
    stream = await client.chat.completions.create(
        model="qwen3-omni-flash", stream=True, stream_options={"include_usage": True},
        messages=[{"role": "user", "content": QUESTION}], modalities=["text", "audio"],
        audio={"voice": "Cherry", "format": "wav"},
    )
    async for chunk in stream:
        if first is None and chunk.choices and chunk.choices[0].delta.content:
            first = time.monotonic() - start
    end = time.monotonic() - start
    await client.close()
    return first or end, end


async def through_bot(world: World) -> tuple[float, float]:
    """Seconds from a member's message to the first visible text and to the voice message."""
    before = len(world.fake.requests)
    start = time.monotonic()
    world.h.message_create(world.channel, world.member, QUESTION, mention_bot=True)
    await world.h.settle(timeout=60)
    sent = [r for r in world.fake.requests[before:]
            if r.method == "POST" and r.path.endswith("/messages")]
    first_text = next(r.at for r in sent if r.content)
    voice = next(r.at for r in sent if r.flags & 8192)
    return first_text - start, voice - start


async def encode_ratio() -> tuple[float, float]:
    """Seconds to encode 20 s of model speech as a voice message, and that share of 20 s."""
    pcm = bytes(24_000 * 2 * 20)
    start = time.monotonic()
    await encode_speech(pcm, "ogg")
    took = time.monotonic() - start
    return took, took / pcm_seconds(pcm)


async def main_async(delay: float, runs: int) -> None:
    with FakeDashScope(token_delay=delay) as server, tempfile.TemporaryDirectory() as folder:
        server.reply_text = REPLY
        raw = [await raw_sdk(server) for _ in range(runs)]
        async with running_world(server, Path(folder), OMNICORD_REPLY_MODE="both") as world:
            server.reply_text = REPLY
            bot = []
            for index in range(runs):
                world.h.slash(world.channel, world.admin, "omni reset")
                await world.h.settle()
                bot.append(await through_bot(world))
                del index
    raw_first = statistics.median(r[0] for r in raw)
    raw_end = statistics.median(r[1] for r in raw)
    bot_first = statistics.median(b[0] for b in bot)
    bot_voice = statistics.median(b[1] for b in bot)
    took, share = await encode_ratio()
    print(f"chunk delay {delay * 1000:.0f} ms, median of {runs} runs")
    print(f"first visible text: raw SDK {raw_first * 1000:.0f} ms, bot {bot_first * 1000:.0f} ms "
          f"-> added {(bot_first - raw_first) * 1000:.0f} ms (goal <= 100 ms)")
    print(f"voice message: stream end {raw_end * 1000:.0f} ms, voice message posted "
          f"{bot_voice * 1000:.0f} ms -> added {(bot_voice - raw_end) * 1000:.0f} ms")
    print(f"encoding 20 s of speech as OGG/Opus took {took * 1000:.0f} ms = {share * 100:.2f}% "
          "of the clip (goal <= 5%)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--delay", type=float, default=0.05, help="seconds between chunks")
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    asyncio.run(main_async(args.delay, args.runs))


if __name__ == "__main__":
    main()
