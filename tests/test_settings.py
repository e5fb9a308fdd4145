"""Settings from the environment and .env, and one clear line for a bad one."""

from __future__ import annotations

from pathlib import Path

import pytest
from omnicord.errors import ConfigError
from omnicord.settings import DEFAULT_BASE_URL, load_settings


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for name in ("DASHSCOPE_API_KEY", "DASHSCOPE_BASE_URL", "OMNICORD_MODEL", "OMNICORD_VOICE",
                 "OMNICORD_CAPTION_MODEL", "OMNICORD_DB", "DISCORD_TOKEN",
                 "OMNICORD_MAX_RETRIES", "OMNICORD_REQUEST_TIMEOUT"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.chdir(tmp_path)


def test_defaults() -> None:
    settings = load_settings()
    assert settings.base_url == DEFAULT_BASE_URL
    assert settings.model == "qwen3-omni-flash"
    assert settings.voice == "Cherry"
    assert settings.caption_model == "qwen3-omni-30b-a3b-captioner"
    assert settings.db_path == Path("omnicord.db")
    assert settings.api_key is None


def test_dotenv_file_is_read(tmp_path: Path) -> None:
    (tmp_path / ".env").write_text(
        "DASHSCOPE_API_KEY=sk-from-dotenv\nOMNICORD_MODEL=qwen-omni-turbo\nOMNICORD_VOICE=serena\n"
    )
    settings = load_settings()
    assert settings.require_api_key() == "sk-from-dotenv"
    assert settings.model == "qwen-omni-turbo"
    assert settings.voice == "Serena"  # normalised to the catalog's spelling
    assert "sk-from-dotenv" not in repr(settings)


@pytest.mark.parametrize(
    ("variable", "value", "message"),
    [
        ("OMNICORD_MODEL", "gpt-4o", "OMNICORD_MODEL: unknown chat model 'gpt-4o'"),
        ("OMNICORD_CAPTION_MODEL", "qwen3-omni-flash", "OMNICORD_CAPTION_MODEL: unknown"),
        ("OMNICORD_VOICE", "Serena", "OMNICORD_VOICE: qwen3-omni-flash has no voice 'Serena'"),
        ("DASHSCOPE_BASE_URL", "dashscope.example", "DASHSCOPE_BASE_URL: must be an http(s)"),
        ("OMNICORD_MAX_RETRIES", "many", "OMNICORD_MAX_RETRIES:"),
        ("OMNICORD_REQUEST_TIMEOUT", "-1", "OMNICORD_REQUEST_TIMEOUT:"),
    ],
)
def test_invalid_setting_is_named(
    monkeypatch: pytest.MonkeyPatch, variable: str, value: str, message: str
) -> None:
    monkeypatch.setenv(variable, value)
    with pytest.raises(ConfigError) as caught:
        load_settings()
    assert str(caught.value).startswith(message)
    assert "\n" not in str(caught.value)


def test_missing_key_and_token_say_what_to_set(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DASHSCOPE_API_KEY", "   ")
    settings = load_settings()
    with pytest.raises(ConfigError, match="DASHSCOPE_API_KEY is not set"):
        settings.require_api_key()
    with pytest.raises(ConfigError, match="DISCORD_TOKEN is not set"):
        settings.require_discord_token()


def test_any_openai_compatible_base_url(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DASHSCOPE_BASE_URL", "http://127.0.0.1:8000/v1/")
    assert load_settings().base_url == "http://127.0.0.1:8000/v1"


def test_blank_optional_settings_are_unset(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OMNICORD_CACHE_DIR", "")
    monkeypatch.setenv("OMNICORD_FFMPEG", " ")
    settings = load_settings()
    assert settings.cache_dir is None and settings.ffmpeg is None
    assert settings.media_cache_dir == Path("omnicord-media")


def test_dm_policy_and_retention(monkeypatch: pytest.MonkeyPatch) -> None:
    defaults = load_settings()
    assert defaults.allow_dms is True and defaults.retention_days == 0  # keep everything
    monkeypatch.setenv("OMNICORD_ALLOW_DMS", "false")
    monkeypatch.setenv("OMNICORD_RETENTION_DAYS", "")
    chosen = load_settings()
    assert chosen.allow_dms is False and chosen.retention_days == 0
    monkeypatch.setenv("OMNICORD_RETENTION_DAYS", "-3")
    with pytest.raises(ConfigError, match="OMNICORD_RETENTION_DAYS"):
        load_settings()
