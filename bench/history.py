"""History benchmark: input tokens per turn, Omnicord against a naive client, one run.

    .venv/bin/python bench/history.py

A scripted 40-turn conversation in which members post images, voice notes, a video and text
runs twice against the offline DashScope server (tests/doubles/fake_dashscope/): once through
Omnicord's conversations (budgeted, media re-sent only for recent turns) and once through a
naive client that re-sends every turn's media every time. Both are counted with the same
estimator, and each request is also checked by the server, which enforces the model's limit.
Goal: at least 2x fewer tokens, with no Omnicord request over the limit.
"""

from __future__ import annotations

import asyncio
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import openai  # noqa: E402
from omnicord.conversation.budget import MESSAGE_OVERHEAD_TOKENS  # noqa: E402
from omnicord.conversation.compose import DEFAULT_SYSTEM_PROMPT, NewMessage, split_by_modality  # noqa: E402
from omnicord.conversation.respond import Conversations, ReplyOptions  # noqa: E402
from omnicord.media.cache import MediaCache  # noqa: E402
from omnicord.media.prepare import prepare_media  # noqa: E402
from omnicord.media.tokens import text_tokens  # noqa: E402
from omnicord.media.types import MediaTarget, PreparedMedia  # noqa: E402
from omnicord.model.catalog import find_model  # noqa: E402
from omnicord.model.omni import OmniClient  # noqa: E402
from omnicord.store import SqliteStore  # noqa: E402

from tests.doubles.fake_dashscope import FakeDashScope  # noqa: E402
from tests.doubles.media import image, test_pattern_video, voice_note  # noqa: E402

MODEL = find_model("qwen3-omni-flash")
TURNS = 40


async def make_media(folder: Path) -> list[PreparedMedia | None]:
    target = MediaTarget(MODEL)
    files = [
        image(folder / "photo.png", 1600, 1200),
        voice_note(folder / "voice-message.ogg", 20),
        None,
        test_pattern_video(folder / "clip.mp4", 8),
        image(folder / "screenshot.png", 1280, 720, color="teal"),
        None,
    ]
    return [None if f is None else await prepare_media(f, name=f.name, target=target)
            for f in files]


def script(media: list[PreparedMedia | None]) -> list[NewMessage]:
    names = ("Ada", "Bo", "Cy")
    return [
        NewMessage(names[i % 3], f"Turn {i}: what do you make of this? " + "Details. " * 20,
                   () if media[i % len(media)] is None else (media[i % len(media)],))
        for i in range(TURNS)
    ]


def naive_tokens(messages: list[NewMessage], replies: list[str], upto: int) -> int:
    tokens = text_tokens(DEFAULT_SYSTEM_PROMPT)
    for index in range(upto + 1):
        message = messages[index]
        tokens += text_tokens(message.text) + sum(m.tokens for m in message.media)
        tokens += MESSAGE_OVERHEAD_TOKENS * 2
        if index < upto:
            tokens += text_tokens(replies[index])
    return tokens


def naive_request(messages: list[NewMessage], replies: list[str], upto: int) -> list[dict]:
    sent: list[dict] = [{"role": "system", "content": DEFAULT_SYSTEM_PROMPT}]
    for index in range(upto + 1):
        message = messages[index]
        parts = [p.part for m in message.media for p in m.parts]
        sent += split_by_modality(message.text, parts)
        if index < upto:
            sent.append({"role": "assistant", "content": replies[index]})
    return sent


def naive_accepted(server: FakeDashScope, request: list[dict]) -> bool:
    client = openai.OpenAI(api_key=server.api_key, base_url=server.base_url, max_retries=0)
    try:
        list(client.chat.completions.create(model=MODEL.name, messages=request, stream=True))
    except openai.APIStatusError:
        return False
    finally:
        client.close()
    return True


async def run(folder: Path, server: FakeDashScope) -> None:
    media = await make_media(folder)
    messages = script(media)
    client = OmniClient(server.api_key, server.base_url, max_retries=0)
    replies: list[str] = []
    ours_total = naive_total = naive_rejected = ours_rejected = 0
    print(f"{'turn':>4} {'omnicord':>9} {'naive':>9}  naive accepted")
    async with SqliteStore(folder / "bench.db") as store:
        conversations = Conversations(store, client, MediaCache(folder / "cache"))
        options = ReplyOptions(model=MODEL, model_name=MODEL.name)
        for index, message in enumerate(messages):
            rejected_before = len(server.rejections)
            answer = await conversations.respond(
                "bench", speaker_id=message.speaker_name, new=message, options=options,
                target=MediaTarget(MODEL),
            )
            ours_rejected += len(server.rejections) - rejected_before
            replies.append(answer.reply.text)
            naive = naive_tokens(messages, replies, index)
            accepted = await asyncio.to_thread(
                naive_accepted, server, naive_request(messages, replies, index)
            )
            naive_rejected += not accepted
            ours_total += answer.composition.tokens
            naive_total += naive
            print(f"{index:>4} {answer.composition.tokens:>9,} {naive:>9,}  "
                  f"{'yes' if accepted else 'NO (over a limit)'}")
    await client.aclose()
    limit = MODEL.input_limit()
    print(f"total input tokens: omnicord {ours_total:,}, naive {naive_total:,}; "
          f"ratio {naive_total / ours_total:.2f}x fewer (goal >= 2x)")
    print(f"requests over a limit: omnicord {ours_rejected}, naive {naive_rejected} of {TURNS} "
          f"(model input limit {limit:,} tokens, request body 6 MB)")


def main() -> None:
    with tempfile.TemporaryDirectory(prefix="omnicord-bench-") as folder, FakeDashScope() as server:
        asyncio.run(run(Path(folder), server))


if __name__ == "__main__":
    main()
