"""An erasure that races a streaming reply, across processes: ``omnicord forget`` run in
another process while this one streams the member's reply keeps that reply's turn, usage and
conversation out of the store, on SQLite and PostgreSQL alike."""

from __future__ import annotations

import asyncio
import subprocess
import sys
from pathlib import Path

import pytest
from omnicord.conversation.compose import NewMessage
from omnicord.conversation.respond import Conversations, Payer, ReplyOptions
from omnicord.model.catalog import find_model
from omnicord.model.omni import OmniClient
from omnicord.store import SqliteStore, Store
from omnicord.store.records import Kept

from tests.doubles.fake_dashscope import FakeDashScope
from tests.store.conftest import StoreFactory, require_postgres
from tests.store.conftest import make_store as make_store

FLASH = find_model("qwen3-omni-flash")


async def forget_in_another_process(env: dict[str, str], cwd: Path, database: str,
                                    user_id: str) -> str:
    """Run ``omnicord forget USER --yes`` as its own process; its output line."""
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "omnicord", "forget", user_id, "--yes", cwd=cwd,
        env=env | {"OMNICORD_DB": database}, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    out, err = await asyncio.wait_for(process.communicate(), 60)
    assert process.returncode == 0, err.decode()
    return (out + err).decode()


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
async def test_forget_in_another_process_while_a_reply_streams_keeps_nothing(
        backend: str, dashscope: FakeDashScope, cli_env: dict[str, str], tmp_path: Path,
        make_store: StoreFactory) -> None:
    if backend == "postgresql":
        require_postgres()
    store: Store = await make_store(backend)
    database = (str(store.path) if isinstance(store, SqliteStore)  # type: ignore[attr-defined]
                else store.database.url)  # type: ignore[attr-defined]
    client = OmniClient(dashscope.api_key, dashscope.base_url, max_retries=0)
    conversations = Conversations(store, client)
    options = ReplyOptions(model=FLASH, model_name=FLASH.name)
    said: list[str] = []

    async def forget_mid_stream(event: object) -> None:
        if not said:  # the reply has begun and is not finished: erase the member now
            said.append(await forget_in_another_process(cli_env, tmp_path, database, "42"))

    try:
        await conversations.respond("dm:42", speaker_id="42",
                                    new=NewMessage("Ada", "an earlier message"),
                                    options=options, payer=Payer("42"))
        answer = await conversations.respond(
            "dm:42", speaker_id="42", new=NewMessage("Ada", "my address is 1 Main St"),
            options=options, payer=Payer("42"), on_event=forget_mid_stream)
    finally:
        await client.aclose()
    assert "1 turns" in said[0]  # the earlier one; the streaming one was not stored yet
    assert answer.reply.text  # the member saw the answer
    assert answer.kept is Kept.FORGOTTEN
    assert await store.history("dm:42") == []
    assert await store.usage_by_model(since_day="2000-01-01", user_id="42") == []
    assert await store.count_rows("conversations") == 0
