"""Composing messages under the one-modality rule."""

from __future__ import annotations

import pytest
from omnicord.conversation.budget import Budget
from omnicord.conversation.compose import (
    Instructions,
    NewMessage,
    PastTurn,
    compose_request,
    split_by_modality,
)
from omnicord.model.catalog import find_model
from omnicord.model.parts import audio_part, image_part, message_modalities, video_part
from omnicord.store import MediaRef, Turn

IMG = image_part(b"png", "image/png")
IMG2 = image_part(b"png2", "image/png")
WAV = audio_part(b"wav", "wav")
MP3 = audio_part(b"mp3", "mp3")
MP4 = video_part(b"mp4")


def test_text_only() -> None:
    assert split_by_modality("hi", []) == [
        {"role": "user", "content": [{"type": "text", "text": "hi"}]}
    ]


def test_mixed_media_becomes_one_modality_per_message() -> None:
    messages = split_by_modality("compare", [IMG, WAV, IMG2, MP3, MP4])
    assert [sorted(message_modalities(m)) for m in messages] == [
        ["image"], ["audio"], ["audio"], ["video"]
    ]
    assert messages[0]["content"] == [IMG, IMG2, {"type": "text", "text": "compare"}]
    assert all(m["role"] == "user" for m in messages)


@pytest.mark.parametrize("speech", [False, True])
def test_history_is_text_only_and_instructions_placed_by_model(speech: bool) -> None:
    turbo = find_model("qwen-omni-turbo")
    history = [PastTurn(Turn("1", "Ada", "look", "A cat.", "qwen-omni-turbo",
                             media=(MediaRef(kind="image", name="cat.png", description="a cat"),)))]
    composed = compose_request(turbo, history=history, new=NewMessage("Ada", "and now?"),
                               budget=Budget.for_model(turbo),
                               instructions=Instructions("Be brief."), speech=speech)
    messages = composed.messages
    roles = [m["role"] for m in messages]
    assert roles == (["user", "assistant", "user"] if speech
                     else ["system", "user", "assistant", "user"])
    past = messages[-3]
    assert past["content"][-1]["text"] == "[image: cat.png — a cat] look"
    assert messages[-2]["content"] == "A cat."
    if speech:
        assert messages[0]["content"][0]["text"] == "(Instructions: Be brief.)"
    assert composed.turns_sent == 1 and composed.media_resent == 0


def test_the_default_persona_asks_for_the_members_language() -> None:
    from omnicord.conversation.compose import Instructions

    default = Instructions.with_persona(None, language="ja").text()
    assert "Answer in the language the member writes or speaks in" in default
    assert default.endswith("answer in Japanese.")
    assert "in English." in Instructions.with_persona(None).text()
    own = Instructions.with_persona("Always answer in French.", language="ja").text()
    assert own == "Always answer in French."  # an admin's persona says what it says
