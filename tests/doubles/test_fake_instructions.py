"""The offline DashScope follows transcription and translation instructions deterministically,
driven with the real ``openai`` client."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from openai import OpenAI

from tests.doubles.fake_dashscope import FakeDashScope
from tests.doubles.test_fake_dashscope import (
    FLASH,
    audio_part,
    mp3,
    stream,
    text_of,
    text_part,
    user,
    wav,
)

ASK = 'Transcribe the speech. If there is none, answer with exactly "<<QUIET>>".'


@pytest.fixture
def client(dashscope: FakeDashScope) -> Iterator[OpenAI]:
    with OpenAI(api_key=dashscope.api_key, base_url=dashscope.base_url, max_retries=0,
                timeout=30) as opened:
        yield opened


def system(text: str, *parts: dict[str, Any]) -> list[dict[str, Any]]:
    return [{"role": "system", "content": text}, *user(*parts)]


def test_speech_is_transcribed_and_silence_answers_the_marker(client: OpenAI) -> None:
    spoken = stream(client, FLASH, user(audio_part(mp3(2.0), "mp3"), text_part(ASK)))
    assert text_of(spoken) == "Hello, this is a recording of 2.0 seconds."
    silent = stream(client, FLASH, user(audio_part(wav(2.0)), text_part(ASK)))
    assert text_of(silent) == "<<QUIET>>"
    asked = stream(client, FLASH, user(audio_part(wav(2.0)), text_part("What is this?")))
    assert text_of(asked) == "Echo: What is this? [saw 1 audio clip (2.0 s)]"


def test_translations_are_tagged_and_english_answers_the_marker(
    client: OpenAI, dashscope: FakeDashScope
) -> None:
    instruction = 'Translate the text into {}. If it already is, answer with exactly "<<SAME>>".'
    french = stream(client, FLASH, system(instruction.format("French"), text_part("Good day")))
    assert text_of(french) == "[French] Good day"
    english = stream(client, FLASH, system(instruction.format("English"), text_part("Hi")))
    assert text_of(english) == "<<SAME>>"
    dashscope.reply_text = "fixed"
    assert text_of(stream(client, FLASH, system(instruction.format("Thai"),
                                                text_part("Hi")))) == "fixed"
