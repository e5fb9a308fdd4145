"""A models file in the running bot: ``/omni-admin model`` offers and takes a model only the
file knows, and the bot answers with it."""

from __future__ import annotations

from pathlib import Path

from omnicord.model.catalog import find_model

from tests.doubles.fake_dashscope import FakeDashScope
from tests.doubles.fake_dashscope.rules import FLASH, models_added
from tests.doubles.omnicord_bot import running_world

PLUS = '''
[models."qwen3.5-omni-plus"]
base = "qwen3-omni-flash"
context_window = 131072
max_input = 98304
max_output = 32768
'''


async def test_admin_model_offers_and_uses_a_model_the_file_adds(
    dashscope: FakeDashScope, tmp_path: Path
) -> None:
    path = tmp_path / "models.toml"
    path.write_text(PLUS, encoding="utf-8")
    async with running_world(dashscope, tmp_path, OMNICORD_MODELS_FILE=path) as world:
        interaction = world.h.autocomplete(world.channel, world.admin, "omni-admin model",
                                           {"model": "qwen"}, focused="model")
        await world.h.settle()
        (response,) = world.fake.interaction_responses(interaction["token"])
        assert [c["value"] for c in response.payload["data"]["choices"]] == [
            "qwen3-omni-flash", "qwen-omni-turbo", "qwen2.5-omni-7b", "qwen3.5-omni-plus"]

        chosen = world.h.slash(world.channel, world.admin, "omni-admin model",
                               {"model": "qwen3.5-omni-plus"})
        await world.h.settle()
        (said,) = world.fake.interaction_responses(chosen["token"])
        assert "Model set to **qwen3.5-omni-plus**" in said.content
        with models_added({"qwen3.5-omni-plus": FLASH}):
            await world.ask("hello there")
        assert [body["model"] for body in dashscope.accepted] == ["qwen3.5-omni-plus"]
        assert world.texts()[-1] == "Echo: Bo: hello there"


async def test_without_the_file_the_bot_does_not_know_the_model(
    dashscope: FakeDashScope, tmp_path: Path
) -> None:
    async with running_world(dashscope, tmp_path) as world:
        interaction = world.h.autocomplete(world.channel, world.admin, "omni-admin model",
                                           {"model": "plus"}, focused="model")
        await world.h.settle()
        (response,) = world.fake.interaction_responses(interaction["token"])
        assert response.payload["data"]["choices"] == []
        assert find_model("qwen3-omni-flash").origin == "built-in"
