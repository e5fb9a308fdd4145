"""The model catalog: names, aliases, limits and voices from the vendor pages."""

from __future__ import annotations

import pytest
from omnicord.model.catalog import MODELS, UnknownModelError, find_model


@pytest.mark.parametrize(
    ("name", "canonical"),
    [
        ("qwen3-omni-flash", "qwen3-omni-flash"),
        ("qwen3-omni-flash-2025-09-15", "qwen3-omni-flash"),
        ("QWEN3-OMNI-FLASH-0915", "qwen3-omni-flash"),
        ("qwen-omni-turbo-latest", "qwen-omni-turbo"),
        ("qwen-omni-turbo-0119", "qwen-omni-turbo"),
        ("qwen2.5-omni-7b", "qwen2.5-omni-7b"),
    ],
)
def test_aliases_and_snapshots_resolve(name: str, canonical: str) -> None:
    assert find_model(name, "chat").name == canonical


def test_kinds_are_kept_apart() -> None:
    assert find_model("qwen3-omni-30b-a3b-captioner", "captioner").kind == "captioner"
    with pytest.raises(UnknownModelError, match="known: qwen3-omni-flash"):
        find_model("qwen3-omni-30b-a3b-captioner", "chat")
    with pytest.raises(UnknownModelError):
        find_model("gpt-4o")


def test_limits_match_the_vendor_pages() -> None:
    flash = find_model("qwen3-omni-flash")
    turbo = find_model("qwen-omni-turbo")
    assert (flash.input_limit(), flash.input_limit(thinking=True)) == (49_152, 16_384)
    assert turbo.input_limit(thinking=True) == 30_720 and not turbo.supports_thinking
    assert (flash.audio.max_seconds, turbo.audio.max_seconds) == (1200, 180)
    assert (flash.video.max_seconds, turbo.video.max_seconds) == (150, 40)
    assert (flash.image_list.min_images, flash.image_list.max_images) == (2, 128)
    assert (turbo.image_list.min_images, turbo.image_list.max_images) == (4, 80)
    assert (flash.image.block_px, turbo.image.block_px) == (32, 28)
    assert flash.image.max_pixels == 1280 * 32 * 32
    assert not turbo.system_message_with_audio_output
    captioner = find_model("qwen3-omni-30b-a3b-captioner")
    assert captioner.audio.max_seconds == 40 * 60
    assert "ogg" not in captioner.audio.formats
    assert captioner.prices["intl"].input_per_million == 3.81


def test_voice_tables() -> None:
    assert len(find_model("qwen3-omni-flash").voices) == 17
    assert find_model("qwen-omni-turbo").voice_names() == ("Cherry", "Serena", "Ethan", "Chelsie")
    assert find_model("qwen2.5-omni-7b").voice_names() == ("Ethan", "Chelsie")
    assert find_model("qwen3-omni-flash").find_voice("rocky").note == "Cantonese"
    assert not find_model("qwen3-omni-30b-a3b-captioner").speaks


def test_every_alias_is_unique() -> None:
    names = [n.lower() for m in MODELS for n in (m.name, *m.aliases)]
    assert len(names) == len(set(names))
