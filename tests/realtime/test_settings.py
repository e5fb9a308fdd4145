"""The realtime settings and catalog: defaults, what is refused, what is masked."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest
from omnicord import build
from omnicord.errors import ConfigError, RequestRefused
from omnicord.model.catalog import (
    REALTIME_MODELS,
    UnknownRealtimeModelError,
    find_realtime_model,
)
from omnicord.realtime.client import RealtimeClient
from omnicord.secrets import redact
from omnicord.settings import DEFAULT_REALTIME_URL, Settings, load_settings

NAMES = ("OMNICORD_REALTIME_URL", "OMNICORD_REALTIME_MODEL", "OMNICORD_TALK_VOICE",
         "DASHSCOPE_API_KEY")


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for name in NAMES:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.chdir(tmp_path)


def test_defaults() -> None:
    settings = load_settings()
    assert settings.realtime_url == DEFAULT_REALTIME_URL
    assert settings.realtime_model == "qwen3-omni-flash-realtime"
    assert (settings.talk_voice, settings.realtime_voice) == (None, "Cherry")
    turbo = dataclasses.replace(settings, realtime_model="qwen-omni-turbo-realtime-2025-05-08")
    assert turbo.realtime_voice == "Chelsie"


def test_the_talk_voice_is_checked_against_the_realtime_model(
    monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OMNICORD_TALK_VOICE", " serena ")
    monkeypatch.setenv("OMNICORD_REALTIME_MODEL", "qwen-omni-turbo-realtime")
    assert load_settings().realtime_voice == "Serena"
    monkeypatch.setenv("OMNICORD_REALTIME_MODEL", "qwen3-omni-flash-realtime")
    with pytest.raises(ConfigError, match=r"^OMNICORD_TALK_VOICE: qwen3-omni-flash-realtime has "
                       r"no voice 'serena' \(choose from Cherry, Ethan"):
        load_settings()


@pytest.mark.parametrize(("variable", "value", "message"), [
    ("OMNICORD_REALTIME_URL", "https://dashscope-intl.aliyuncs.com/api-ws/v1/realtime",
     "OMNICORD_REALTIME_URL: must be a ws(s) URL such as wss://"),
    ("OMNICORD_REALTIME_URL", "wss://", "OMNICORD_REALTIME_URL: must be a ws(s) URL"),
    ("OMNICORD_REALTIME_URL", "wss://h:port/x", "OMNICORD_REALTIME_URL: its port is not a number"),
    ("OMNICORD_REALTIME_MODEL", "qwen3-omni-flash",
     "OMNICORD_REALTIME_MODEL: unknown realtime model 'qwen3-omni-flash' (known: "
     "qwen3-omni-flash-realtime, qwen-omni-turbo-realtime)"),
])
def test_a_bad_value_names_its_setting(monkeypatch: pytest.MonkeyPatch, variable: str,
                                       value: str, message: str) -> None:
    monkeypatch.setenv(variable, value)
    with pytest.raises(ConfigError) as caught:
        load_settings()
    assert str(caught.value).startswith(message)


def test_secrets_in_the_realtime_url_are_masked(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OMNICORD_REALTIME_URL", "wss://user:Pw-realtime-4411@proxy.example/rt"
                       "?token=tk-realtime-5522")
    settings = load_settings()
    assert "Pw-realtime-4411" in settings.secret_values()
    assert "tk-realtime-5522" in settings.secret_values()
    assert redact("at Pw-realtime-4411 and tk-realtime-5522") == "at [redacted] and [redacted]"
    monkeypatch.setenv("OMNICORD_REALTIME_URL", "wss://user:Pw-other-7788@proxy.example/rt")
    monkeypatch.setenv("OMNICORD_REALTIME_MODEL", "nope")
    with pytest.raises(ConfigError):
        load_settings()
    assert redact("Pw-other-7788") == "[redacted]"  # read before another setting failed


async def test_the_builder_paces_and_needs_the_key() -> None:
    with pytest.raises(ConfigError, match="DASHSCOPE_API_KEY"):
        build.realtime_client(Settings())
    client = build.realtime_client(Settings(api_key="sk-realtime-builder-1234",
                                            upstream_rpm=5, realtime_url="ws://h/rt"),
                                   max_session_seconds=9)
    assert isinstance(client, RealtimeClient)
    assert (client.url, client.max_session_seconds) == ("ws://h/rt", 9)
    assert "sk-realtime-builder-1234" not in repr(client)
    await client.aclose()


def test_the_catalog() -> None:
    flash, turbo = REALTIME_MODELS
    assert (len(flash.voices), flash.default_voice, flash.output_rate) == (17, "Cherry", 24_000)
    assert (turbo.voice_names(), turbo.default_voice, turbo.output_rate) == (
        ("Cherry", "Serena", "Ethan", "Chelsie"), "Chelsie", 16_000)
    assert {m.input_rate for m in REALTIME_MODELS} == {16_000}
    assert {m.output_audio_format for m in REALTIME_MODELS} == {"pcm16"}
    assert {m.session_seconds for m in REALTIME_MODELS} == {1800}
    assert find_realtime_model(" QWEN3-omni-flash-realtime-2025-12-01 ") is flash
    assert find_realtime_model("qwen-omni-turbo-realtime-latest") is turbo
    with pytest.raises(UnknownRealtimeModelError) as caught:
        find_realtime_model("qwen-omni-turbo")
    assert isinstance(caught.value, RequestRefused) and isinstance(caught.value, ValueError)
