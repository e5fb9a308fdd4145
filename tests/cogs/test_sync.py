"""Slash commands synced only when they changed: the real ``OmnicordBot`` against the fake
Discord (which records every ``PUT /applications/{id}/commands``), the tree's hash kept in the
database; and ``omnicord sync``, which syncs whenever it is asked."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from pathlib import Path

import discord
import discord.http
import pytest
from discord import app_commands
from omnicord.cli import main
from omnicord.cogs.delivery.streaming import CLEANUP_TASK_PREFIX
from omnicord.cogs.runner import OmnicordBot
from omnicord.cogs.runtime import sync
from omnicord.cogs.runtime.sync import tree_hash
from omnicord.settings import Settings
from omnicord.store import open_store

from tests.doubles.fake_dashscope import FakeDashScope
from tests.doubles.fake_discord import DiscordHarness, FakeDiscord
from tests.doubles.omnicord_bot import make_settings
from tests.store.conftest import fresh_database


def puts(fake: FakeDiscord) -> list:
    """Every sync the bot attempted (global commands)."""
    return fake.find("PUT", rf"/applications/{fake.application_id}/commands")


async def stored_hash(settings: Settings, application_id: int) -> str | None:
    async with open_store(settings.database) as store:
        return await store.command_tree_hash(str(application_id))


async def pong(interaction: discord.Interaction) -> None:
    """``/ping``: a command one test adds to the tree."""
    await interaction.response.send_message("pong")


class WithPing(OmnicordBot):
    """The bot with one more slash command: a changed tree."""

    async def setup_hook(self) -> None:
        self.tree.add_command(app_commands.Command(name="ping", description="Pong",
                                                   callback=pong))
        await super().setup_hook()


@contextlib.asynccontextmanager
async def started(fake: FakeDiscord, settings: Settings, bot_class: type[OmnicordBot] = OmnicordBot,
                  token: str = "fake-token") -> AsyncIterator[OmnicordBot]:
    """One start of the bot (log-in, extensions, sync) against ``fake``; closed after."""
    bot = bot_class(settings)
    bot.omnicord_url_rewrite = fake.local_url_for  # type: ignore[attr-defined]
    async with DiscordHarness(bot, fake=fake, token=token) as h:
        h.ignored_task_prefixes.append(CLEANUP_TASK_PREFIX)
        yield bot


async def test_only_a_changed_tree_is_synced(dashscope: FakeDashScope, tmp_path: Path,
                                             caplog: pytest.LogCaptureFixture) -> None:
    settings = make_settings(dashscope, tmp_path)
    caplog.set_level(logging.INFO, logger="omnicord.sync")
    with FakeDiscord() as fake:
        async with started(fake, settings) as bot:
            assert len(puts(fake)) == 1  # the first start syncs
            names = {command["name"] for command in puts(fake)[0].json}
            assert {"omni", "Transcribe audio", "Caption audio"} <= names
            first = await tree_hash(bot.tree, fake.application_id)
        assert await stored_hash(settings, fake.application_id) == first
        async with started(fake, settings):
            assert len(puts(fake)) == 1  # unchanged: not synced again
        assert "slash commands unchanged, not synced" in caplog.text
        async with started(fake, settings, WithPing) as bot:
            assert len(puts(fake)) == 2  # a command was added: synced
            assert "ping" in {command["name"] for command in puts(fake)[-1].json}
            changed = await tree_hash(bot.tree, fake.application_id)
        assert changed != first
        assert await stored_hash(settings, fake.application_id) == changed
        async with started(fake, settings, WithPing):
            assert len(puts(fake)) == 2
        async with started(fake, settings):  # the command removed again: synced
            assert len(puts(fake)) == 3
    with FakeDiscord() as other:  # another application, same database: it must sync
        async with started(other, settings):
            assert len(puts(other)) == 1


async def test_server_settings_are_a_command_discord_hides_from_members(
        dashscope: FakeDashScope, tmp_path: Path) -> None:
    settings = make_settings(dashscope, tmp_path)
    with FakeDiscord() as fake:
        for _ in range(2):
            async with started(fake, settings):
                pass
        (put,) = puts(fake)  # synced once, then unchanged
        assert put.status == 200  # every name and description valid under Discord's rules
    synced = {command["name"]: command for command in put.json}
    admin = synced["omni-admin"]
    assert admin["default_member_permissions"] == str(
        discord.Permissions(manage_guild=True).value)
    assert admin["contexts"] == [0] and admin["dm_permission"] is False  # never in DMs
    assert {option["name"] for option in admin["options"]} == {
        "model", "voice", "replies", "thinking", "chat-channel", "caption-channel",
        "caption-language", "allow-role", "allow-channel", "persona", "token-cap", "talk",
        "talk-role", "conversations", "language", "budget", "status"}
    omni = synced["omni"]
    assert omni["default_member_permissions"] is None
    assert {option["name"] for option in omni["options"]} == {
        "status", "me", "forget", "thread", "transcribe", "caption", "export", "usage", "reset",
        "talk"}


async def test_a_failed_sync_keeps_the_bot_running_and_is_retried_next_start(
        dashscope: FakeDashScope, tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    settings = make_settings(dashscope, tmp_path)
    with FakeDiscord() as fake:
        fake.fail_next("PUT", rf"/applications/{fake.application_id}/commands", status=403,
                       code=50001, message="Missing Access")
        async with started(fake, settings) as bot:
            assert [put.status for put in puts(fake)] == [403]
            assert bot.is_ready() and bot.get_cog("OmnicordUsage") is not None  # runs all the same
        assert "could not sync slash commands" in caplog.text
        assert await stored_hash(settings, fake.application_id) is None
        async with started(fake, settings):
            assert [put.status for put in puts(fake)] == [403, 200]
        assert await stored_hash(settings, fake.application_id) is not None


async def test_a_long_rate_limit_does_not_hold_up_the_start(
        dashscope: FakeDashScope, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        caplog: pytest.LogCaptureFixture) -> None:
    monkeypatch.setattr(sync, "SYNC_TIMEOUT", 0.5)
    settings = make_settings(dashscope, tmp_path)
    with FakeDiscord() as fake:
        path = rf"/applications/{fake.application_id}/commands"
        fake.rate_limit_next("PUT", path, retry_after=30)
        async with started(fake, settings) as bot:  # within the timeout, not 30 s
            assert [put.status for put in puts(fake)] == [429] and bot.is_ready()
        assert "not synced within" in caplog.text
        assert await stored_hash(settings, fake.application_id) is None
        fake.rate_limit_next("PUT", path, retry_after=0.05)  # a short one: waited out
        async with started(fake, settings):
            assert [put.status for put in puts(fake)] == [429, 429, 200]
        assert await stored_hash(settings, fake.application_id) is not None


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
async def test_processes_starting_together_sync_once(
        backend: str, dashscope: FakeDashScope, tmp_path: Path) -> None:
    drop = None
    overrides: dict[str, object] = {}
    if backend == "postgresql":
        url, drop = await asyncio.to_thread(fresh_database)
        overrides["OMNICORD_DB"] = url
    base = discord.http.Route.BASE
    try:
        with FakeDiscord() as fake:
            async with contextlib.AsyncExitStack() as stack:
                await asyncio.gather(*[
                    stack.enter_async_context(started(
                        fake, make_settings(dashscope, tmp_path, **overrides),
                        token=f"process-{n}"))
                    for n in range(4)])
                assert len(puts(fake)) == 1
            settings = make_settings(dashscope, tmp_path, **overrides)
            assert await stored_hash(settings, fake.application_id) is not None
    finally:
        discord.http.Route.BASE = base  # harnesses entered together restore it in any order
        if drop is not None:
            await asyncio.to_thread(drop)


def test_omnicord_sync_syncs_every_time_it_is_asked(
        dashscope: FakeDashScope, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.chdir(tmp_path)
    for name in ("DASHSCOPE_API_KEY", "DISCORD_TOKEN", "OMNICORD_DB"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("OMNICORD_DB", str(tmp_path / "omnicord.db"))
    assert main(["sync"]) == 2
    assert "DISCORD_TOKEN is not set" in capsys.readouterr().err
    monkeypatch.setenv("DISCORD_TOKEN", "fake-token")  # no DASHSCOPE_API_KEY: not needed
    with FakeDiscord() as fake:
        monkeypatch.setattr(discord.http.Route, "BASE", fake.api_base)
        for attempt in (1, 2):
            assert main(["sync"]) == 0
            out = capsys.readouterr().out
            assert len(puts(fake)) == attempt
            count = len(puts(fake)[-1].json)
            assert f"synced {count} slash commands for application {fake.application_id}" in out
        assert not fake.find("GET", r"/gateway(/bot)?")  # HTTP only: no gateway connection
        hashed = asyncio.run(stored_hash(Settings(OMNICORD_DB=tmp_path / "omnicord.db"),
                                         fake.application_id))
        assert hashed is not None
        fake.fail_next("PUT", rf"/applications/{fake.application_id}/commands", status=403,
                       code=50001, message="Missing Access")
        assert main(["sync"]) == 1
        assert "Discord refused the sync" in capsys.readouterr().err
