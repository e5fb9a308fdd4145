"""Settings from the environment and .env, and one clear line for a bad one."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest
from omnicord.errors import ConfigError
from omnicord.secrets import MASK, redact
from omnicord.settings import (
    DEFAULT_BASE_URL,
    FIELDS,
    Settings,
    load_settings,
    unknown_settings,
)


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for name in ("DASHSCOPE_API_KEY", "DASHSCOPE_BASE_URL", "OMNICORD_MODEL", "OMNICORD_VOICE",
                 "OMNICORD_CAPTION_MODEL", "OMNICORD_DB", "DISCORD_TOKEN",
                 "OMNICORD_MAX_RETRIES", "OMNICORD_REQUEST_TIMEOUT", "DASHSCOPE_API_KEY_FILE",
                 "DISCORD_TOKEN_FILE", "OMNICORD_DB_FILE", "DASHSCOPE_BASE_URL_FILE"):
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


def test_secrets_are_read_from_the_files_their_FILE_settings_name(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    (tmp_path / "key").write_bytes(b"sk-from-a-file-123456\r\n")
    (tmp_path / "token").write_bytes(b"token.from.a.file\n\n")  # only one newline is dropped
    (tmp_path / "db").write_text("postgresql://omni:pw-in-a-file@db.internal/omnicord\n")
    monkeypatch.setenv("DASHSCOPE_API_KEY_FILE", str(tmp_path / "key"))
    (tmp_path / ".env").write_text(f"discord_token_file={tmp_path / 'token'}\n"
                                   f"OMNICORD_DB_FILE={tmp_path / 'db'}\n")
    settings = load_settings()
    assert settings.require_api_key() == "sk-from-a-file-123456"
    assert settings.require_discord_token() == "token.from.a.file\n"
    assert settings.database == "postgresql://omni:pw-in-a-file@db.internal/omnicord"
    text = "sk-from-a-file-123456 token.from.a.file pw-in-a-file"
    assert redact(text) == " ".join([MASK] * 3)


def test_the_environment_s_FILE_wins_over_the_value_in_dotenv(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    (tmp_path / ".env").write_text("DISCORD_TOKEN=token-in-dotenv\n")
    (tmp_path / "token").write_text("token-in-the-file")
    monkeypatch.setenv("DISCORD_TOKEN_FILE", str(tmp_path / "token"))
    assert load_settings().require_discord_token() == "token-in-the-file"


@pytest.mark.parametrize(
    ("variables", "message"),
    [
        ({"DISCORD_TOKEN_FILE": "missing"}, "DISCORD_TOKEN_FILE: cannot read missing: No such"),
        ({"DISCORD_TOKEN_FILE": "."}, "DISCORD_TOKEN_FILE: cannot read .: Is a directory"),
        ({"DASHSCOPE_API_KEY_FILE": "empty"}, "DASHSCOPE_API_KEY_FILE: empty is empty"),
        ({"DASHSCOPE_API_KEY_FILE": "empty", "DASHSCOPE_API_KEY": "sk-also-set-123"},
         "DASHSCOPE_API_KEY and DASHSCOPE_API_KEY_FILE are both set in the environment: keep "
         "one"),
    ],
)
def test_a_FILE_setting_that_cannot_be_used_is_one_line_naming_it(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, variables: dict[str, str], message: str
) -> None:
    (tmp_path / "empty").write_text("\n")
    for name, value in variables.items():
        monkeypatch.setenv(name, value)
    with pytest.raises(ConfigError) as caught:
        load_settings()
    assert str(caught.value).startswith(message)
    assert "\n" not in str(caught.value) and "sk-also-set-123" not in str(caught.value)


def test_both_set_in_dotenv_is_refused_naming_the_file(tmp_path: Path) -> None:
    (tmp_path / "token").write_text("token-in-the-file")
    (tmp_path / ".env").write_text("DISCORD_TOKEN=abcdefgh\nDISCORD_TOKEN_FILE=token\n")
    with pytest.raises(ConfigError, match=r"DISCORD_TOKEN and DISCORD_TOKEN_FILE are both set "
                       r"in \.env: keep one"):
        load_settings()


def test_unknown_omnicord_names_are_found_with_the_closest_setting(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("OMNICORD_MODLE", "qwen-omni-turbo")
    monkeypatch.setenv("OMNICORD_DB_FILE", str(tmp_path / "db"))  # known: not reported
    monkeypatch.setenv("OMNICORD_TEST_POSTGRES", "postgresql://x")  # the test suite's own
    (tmp_path / "db").write_text("omnicord.db")
    (tmp_path / ".env").write_text("omnicord_cache_max_md=5\nOMNICORD_ZZZ=1\n"
                                   "omnicord_voice=Cherry\n")
    found = {(u.name, u.where, u.suggestion) for u in unknown_settings()}
    assert found == {("OMNICORD_MODLE", "the environment", "OMNICORD_MODEL"),
                     ("omnicord_cache_max_md", ".env", "OMNICORD_CACHE_MAX_MB"),
                     ("OMNICORD_ZZZ", ".env", None)}
    assert load_settings().model == "qwen3-omni-flash"  # still ignored


def test_settings_come_from_the_env_file_given(tmp_path: Path) -> None:
    (tmp_path / ".env").write_text("OMNICORD_MODEL=qwen2.5-omni-7b\nOMNICORD_VOICE=Ethan\n")
    (tmp_path / "other.env").write_text(
        "OMNICORD_MODEL=qwen-omni-turbo\nOMNICORD_VOICE=Ethan\nOMNICORD_MODLE=x\n")
    assert load_settings().model == "qwen2.5-omni-7b"
    assert load_settings(tmp_path / "other.env").model == "qwen-omni-turbo"
    assert [u.name for u in unknown_settings(tmp_path / "other.env")] == ["OMNICORD_MODLE"]


@pytest.mark.parametrize(("variable", "value", "expected"), [
    ("OMNICORD_ALLOW_DMS", "No", False), ("OMNICORD_ALLOW_DMS", " on ", True),
    ("OMNICORD_DB_POOL_SIZE", " 25 ", 25), ("OMNICORD_DB_POOL_SIZE", "25.0", 25),
    ("OMNICORD_COOLDOWN_SECONDS", "0.5", 0.5), ("OMNICORD_SHARD_COUNT", " ", None),
    ("OMNICORD_LOG_LEVEL", "debug", "DEBUG"), ("OMNICORD_REPLY_MODE", " Voice", "voice"),
])
def test_each_setting_s_text_becomes_its_value(
    monkeypatch: pytest.MonkeyPatch, variable: str, value: str, expected: object
) -> None:
    monkeypatch.setenv(variable, value)
    settings = load_settings()
    name = next(field.name for field in FIELDS if field.alias == variable)
    assert getattr(settings, name) == expected


@pytest.mark.parametrize(("variable", "value", "message"), [
    ("OMNICORD_ALLOW_DMS", "maybe", "OMNICORD_ALLOW_DMS: must be true or false"),
    ("OMNICORD_DB_POOL_SIZE", "0", "OMNICORD_DB_POOL_SIZE: must be at least 1"),
    ("OMNICORD_DB_POOL_SIZE", "1001", "OMNICORD_DB_POOL_SIZE: must be at most 1000"),
    ("OMNICORD_DB_POOL_SIZE", "2.5", "OMNICORD_DB_POOL_SIZE: must be a whole number"),
    ("OMNICORD_MAX_INPUT_MB", "0", "OMNICORD_MAX_INPUT_MB: must be more than 0"),
    ("OMNICORD_COOLDOWN_SECONDS", "nan", "OMNICORD_COOLDOWN_SECONDS: must be a finite number"),
    ("OMNICORD_SHUTDOWN_GRACE", "soon", "OMNICORD_SHUTDOWN_GRACE: must be a number"),
    ("OMNICORD_LOG_LEVEL", "loud", "OMNICORD_LOG_LEVEL: must be one of DEBUG"),
])
def test_a_bad_value_says_what_is_wanted(
    monkeypatch: pytest.MonkeyPatch, variable: str, value: str, message: str
) -> None:
    monkeypatch.setenv(variable, value)
    with pytest.raises(ConfigError) as caught:
        load_settings()
    assert str(caught.value).startswith(message)


def test_settings_take_attribute_or_variable_names_and_copy_with_changes() -> None:
    settings = Settings(OMNICORD_DB="a.db", text_limit="900", api_key="sk-given-123456")
    assert (settings.database, settings.text_limit) == ("a.db", 900)
    assert "sk-given-123456" not in repr(settings)
    changed = dataclasses.replace(settings, text_limit=50, voice="serena", model="qwen-omni-turbo")
    assert (changed.text_limit, changed.voice, changed.database) == (50, "Serena", "a.db")
    assert changed.require_api_key() == "sk-given-123456"
    with pytest.raises(ConfigError, match="OMNICORD_TEXT_LIMIT"):
        dataclasses.replace(settings, text_limit=0)
    with pytest.raises(TypeError, match="no setting 'txt_limit'"):
        Settings(txt_limit=5)
