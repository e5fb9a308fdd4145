"""The composition root: a ``Settings`` is values only, and what Omnicord builds from one (or
``load_settings``) masks its secrets."""

from __future__ import annotations

import secrets
from pathlib import Path

import pytest
from omnicord import build
from omnicord.secrets import MASK, redact_registered
from omnicord.services import open_services
from omnicord.settings import Settings, load_settings


def token() -> str:
    """A secret no other test registered (no key shape: only registration masks it)."""
    return f"token.{secrets.token_hex(12)}"


def host_settings(discord_token: str, password: str) -> Settings:
    return Settings(DASHSCOPE_API_KEY="sk-composition-test", DISCORD_TOKEN=discord_token,
                    OMNICORD_DB=f"postgresql://omni:{password}@db.invalid/omnicord")


def test_building_settings_masks_nothing() -> None:
    discord_token, password = token(), token()
    host_settings(discord_token, password)
    assert redact_registered(f"{discord_token} {password}") == f"{discord_token} {password}"


def test_load_settings_masks_what_it_read(monkeypatch: pytest.MonkeyPatch) -> None:
    discord_token = token()
    monkeypatch.setenv("DISCORD_TOKEN", discord_token)
    load_settings()
    assert redact_registered(discord_token) == MASK


async def test_a_hosts_settings_are_masked_once_services_are_built_from_them(
    tmp_path: Path,
) -> None:
    discord_token, password = token(), token()
    settings = host_settings(discord_token, password)
    async with open_services(settings, database=str(tmp_path / "omnicord.db")):
        pass
    assert redact_registered(f"{discord_token} {password}") == f"{MASK} {MASK}"


async def test_each_builder_that_uses_a_secret_masks_the_settings_first() -> None:
    discord_token = token()
    await build.captioner_client(host_settings(discord_token, token())).aclose()
    assert redact_registered(discord_token) == MASK


async def test_every_model_client_is_paced_by_the_settings() -> None:
    settings = Settings(DASHSCOPE_API_KEY="sk-composition-test", OMNICORD_UPSTREAM_RPM=7)
    for client in (build.omni_client(settings), build.captioner_client(settings)):
        assert client._pace.per_minute == 7  # the upstream pace, not the unpaced default
        await client.aclose()
