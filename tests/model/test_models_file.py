"""The models file (OMNICORD_MODELS_FILE): entries added or merged over the built-in catalog,
every mistake one line, and the catalog in use restored after each test."""

from __future__ import annotations

import asyncio
import dataclasses
from pathlib import Path

import pytest
from omnicord import build
from omnicord.conversation.budget import Budget
from omnicord.errors import ConfigError, MediaError
from omnicord.media.image import prepare_image_sync
from omnicord.media.types import MediaTarget
from omnicord.model import catalog
from omnicord.model.catalog import (
    BUILTIN_CATALOG,
    MODELS,
    UnknownModelError,
    all_models,
    chat_models,
    find_model,
)
from omnicord.model.models_file import ModelsFileError, read_catalog
from omnicord.policy.usage import default_prices, parse_prices
from omnicord.settings import Settings, load_settings

from tests.doubles.media import image

PLUS = '''
[models."qwen3.5-omni-plus"]
base = "qwen3-omni-flash"
aliases = ["qwen3.5-omni-plus-2026-01-01"]
context_window = 131072
max_input = 98304
max_output = 32768
voices = ["Cherry", {name = "Jada", note = "Shanghainese"}]
audio_output_rate = 48000
[models."qwen3.5-omni-plus".audio]
max_seconds = 1200
[models."qwen3.5-omni-plus".prices.intl]
input_per_million = 0.5
output_per_million = 2.0
'''

SCRATCH = '''
[models."omni-scratch"]
kind = "chat"
input = ["text", "audio"]
context_window = 32768
max_input = 30000
max_output = 2000
voices = ["Ethan"]
[models."omni-scratch".audio]
max_bytes = 10000000
max_seconds = 180
formats = ["wav", "mp3"]
tokens_per_second = 25
'''


def models_file(folder: Path, text: str, name: str = "models.toml") -> Path:
    path = folder / name
    path.write_text(text, encoding="utf-8")
    return path


def problems(folder: Path, text: str) -> list[str]:
    """The lines the file's mistakes give (the path shown as models.toml)."""
    path = models_file(folder, text)
    with pytest.raises(ModelsFileError) as caught:
        read_catalog(path)
    return [line.replace(str(path), "models.toml") for line in caught.value.problems]


def test_a_new_model_starts_from_its_base_and_overrides_what_is_given(tmp_path: Path) -> None:
    plus = read_catalog(models_file(tmp_path, PLUS)).get("QWEN3.5-omni-plus-2026-01-01")
    flash = find_model("qwen3-omni-flash")
    assert plus is not None
    assert (plus.name, plus.kind, plus.context_window, plus.max_input, plus.max_output) == (
        "qwen3.5-omni-plus", "chat", 131_072, 98_304, 32_768)
    assert plus.aliases == ("qwen3.5-omni-plus-2026-01-01",)  # not flash's snapshots
    assert plus.voice_names() == ("Cherry", "Jada")
    assert plus.find_voice("jada").note == "Shanghainese"
    assert plus.audio_output_rate == 48_000 and flash.audio_output_rate == 24_000
    # a partial media table merges over the base's
    assert plus.audio == dataclasses.replace(flash.audio, max_seconds=1200.0)
    assert (plus.image, plus.video, plus.max_input_thinking) == (flash.image, flash.video,
                                                                  flash.max_input_thinking)
    assert plus.prices["intl"].input_per_million == 0.5
    assert plus.origin == f'{tmp_path / "models.toml"} [models."qwen3.5-omni-plus"]'
    assert flash.origin == "built-in"


def test_a_model_from_scratch_takes_only_what_it_lists(tmp_path: Path) -> None:
    scratch = read_catalog(models_file(tmp_path, SCRATCH)).get("omni-scratch")
    assert scratch is not None
    assert (scratch.image, scratch.video, scratch.image_list) == (None, None, None)
    assert scratch.audio.formats == ("wav", "mp3")
    assert scratch.audio.tokens_per_second_documented is False
    assert scratch.prices == {} and scratch.max_input_thinking is None


def test_a_model_without_a_modality_refuses_that_media_in_one_line(tmp_path: Path) -> None:
    scratch = read_catalog(models_file(tmp_path, SCRATCH)).get("omni-scratch")
    assert scratch is not None
    picture = image(tmp_path / "a.png", 64, 64)
    with pytest.raises(MediaError, match=r"^omni-scratch does not take images$"):
        prepare_image_sync(picture, "a.png", "png", MediaTarget(scratch))


def test_a_file_entry_of_a_built_in_name_replaces_it_merged(tmp_path: Path) -> None:
    path = models_file(tmp_path, '[models."qwen-omni-turbo"]\nmax_output = 1000\n')
    models = read_catalog(path).models
    turbo = next(m for m in models if m.name == "qwen-omni-turbo")
    assert turbo.max_output == 1000
    assert turbo == dataclasses.replace(find_model("qwen-omni-turbo"), max_output=1000)
    assert [m.name for m in models] == [m.name for m in MODELS]  # replaced, in place
    assert find_model("qwen-omni-turbo").max_output == 2048  # nothing installed yet


def test_installed_entries_reach_every_catalog_reader(tmp_path: Path) -> None:
    path = models_file(tmp_path, PLUS + '[models."qwen-omni-turbo"]\nmax_output = 1000\n')
    with pytest.raises(UnknownModelError):
        find_model("qwen3.5-omni-plus")
    build.load_models(Settings(OMNICORD_MODELS_FILE=path))
    assert find_model("qwen3.5-omni-plus-2026-01-01", "chat").name == "qwen3.5-omni-plus"
    assert "qwen3.5-omni-plus" in [m.name for m in chat_models()]
    assert default_prices()["qwen3.5-omni-plus"].output_per_million == 2.0
    assert parse_prices("qwen3.5-omni-plus=1/3")["qwen3.5-omni-plus"].input_per_million == 1
    with pytest.raises(UnknownModelError, match=r"qwen3\.5-omni-plus"):
        find_model("gpt-4o")  # the refusal lists the file's models too
    # the input budget follows the overridden output limit: 30,720 less min(2,048, 1,000)
    assert Budget.for_model(find_model("qwen-omni-turbo")).max_tokens == 30_720 - 1000
    installed = all_models()
    build.load_models(Settings(OMNICORD_MODELS_FILE=path))  # loading twice: the same catalog
    assert all_models() is installed
    build.load_models(Settings())  # no file: the built-ins alone
    assert all_models() == MODELS


def test_a_changed_file_is_read_again(tmp_path: Path) -> None:
    path = models_file(tmp_path, '[models."qwen-omni-turbo"]\nmax_output = 1000\n')
    first = read_catalog(path)
    assert read_catalog(path) is first
    path.write_text('[models."qwen-omni-turbo"]\nmax_output = 900\n', encoding="utf-8")
    assert read_catalog(path).get("qwen-omni-turbo").max_output == 900  # type: ignore[union-attr]


def test_settings_accept_a_model_their_file_adds_without_installing_it(tmp_path: Path) -> None:
    path = models_file(tmp_path, PLUS)
    with pytest.raises(ConfigError, match=r"OMNICORD_MODEL: unknown chat model 'qwen3\.5"):
        Settings(OMNICORD_MODEL="qwen3.5-omni-plus")
    settings = Settings(OMNICORD_MODELS_FILE=path, OMNICORD_MODEL="qwen3.5-omni-plus",
                        OMNICORD_VOICE="jada", OMNICORD_PRICES="qwen3.5-omni-plus=1/2")
    assert (settings.model, settings.voice, settings.models_file) == (
        "qwen3.5-omni-plus", "Jada", path)
    with pytest.raises(ConfigError, match=r"OMNICORD_VOICE: qwen3\.5-omni-plus has no voice"):
        Settings(OMNICORD_MODELS_FILE=path, OMNICORD_MODEL="qwen3.5-omni-plus",
                 OMNICORD_VOICE="Ethan")
    assert catalog.active_catalog() is BUILTIN_CATALOG  # building Settings changed nothing


def test_load_settings_installs_the_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch
                                         ) -> None:
    for name in ("OMNICORD_MODEL", "OMNICORD_VOICE", "OMNICORD_PRICES"):
        monkeypatch.delenv(name, raising=False)
    path = models_file(tmp_path, PLUS)
    monkeypatch.setenv("OMNICORD_MODELS_FILE", str(path))
    monkeypatch.setenv("OMNICORD_MODEL", "qwen3.5-omni-plus")
    settings = load_settings(tmp_path / "no.env")
    assert find_model(settings.model).origin.endswith('[models."qwen3.5-omni-plus"]')


def test_the_catalog_scope_is_per_task(tmp_path: Path) -> None:
    """Settings built in one task (checking against their file) do not show another task
    their file's models."""
    mine = read_catalog(models_file(tmp_path, PLUS))
    seen: list[bool] = []

    async def checking() -> None:
        with catalog.scoped(mine):
            await asyncio.sleep(0.01)
            seen.append(catalog.active_catalog().get("qwen3.5-omni-plus") is not None)

    async def other() -> None:
        await asyncio.sleep(0.005)
        seen.append(catalog.active_catalog().get("qwen3.5-omni-plus") is not None)

    async def both() -> None:
        await asyncio.gather(checking(), other())

    asyncio.run(both())
    assert sorted(seen) == [False, True]


def test_the_catalog_is_restored_after_a_test_that_installed_one(tmp_path: Path) -> None:
    with catalog.restored():
        build.load_models(Settings(OMNICORD_MODELS_FILE=models_file(tmp_path, PLUS)))
        assert find_model("qwen3.5-omni-plus")
    assert catalog.active_catalog() is BUILTIN_CATALOG


@pytest.mark.parametrize("order", ["first", "second"])
def test_no_test_sees_another_tests_catalog(order: str, tmp_path: Path) -> None:
    """Run in either order in one worker: each starts from the built-ins (the autouse
    fixture restores the catalog) and leaves its file installed."""
    assert catalog.active_catalog() is BUILTIN_CATALOG
    build.load_models(Settings(OMNICORD_MODELS_FILE=models_file(tmp_path, PLUS)))


# --------------------------------------------------------------------------- mistakes


@pytest.mark.parametrize(
    ("text", "line"),
    [
        ('[models."x"]\nbase = "qwen3-omni-flash"\ninput = ["text", "audio"]\n'
         "max_output = -5\n",
         'models.toml: [models."x"] max_output: must be a positive integer, got -5'),
        ('[models."x"]\nbase = "qwen3-omni-flash"\nmax_outptu = 5\n',
         'models.toml: [models."x"] max_outptu: unknown key (did you mean max_output?)'),
        ('[models."x"]\nbase = "qwen3-omni-flash"\ncontext_window = "big"\n',
         "models.toml: [models.\"x\"] context_window: must be a positive integer, got 'big'"),
        ('[models."x"]\nbase = "qwen3-omni-flash"\nmax_input = 70000\n',
         'models.toml: [models."x"] max_input: 70000 is more than context_window 65536'),
        ('[models."x"]\nbase = "qwen3-omni-flash"\ncontext_window = 60000\n'
         "max_output = 61000\n",
         'models.toml: [models."x"] max_output: 61000 is more than context_window 60000'),
        ('[models."x"]\nbase = "qwen3-omni-flsh"\n',
         "models.toml: [models.\"x\"] base: no built-in model 'qwen3-omni-flsh' (did you mean "
         "qwen3-omni-flash?) (built-ins: qwen3-omni-flash, qwen-omni-turbo, qwen2.5-omni-7b, "
         "qwen3-omni-30b-a3b-captioner)"),
        ('[models."x"]\nbase = "qwen3-omni-flash"\nkind = "chatt"\n',
         "models.toml: [models.\"x\"] kind: must be chat or captioner, got 'chatt' (did you "
         "mean chat?)"),
        ('[models."x"]\nbase = "qwen3-omni-flash"\ninput = ["text", "audio", "vidoe"]\n',
         "models.toml: [models.\"x\"] input: unknown modality 'vidoe' (did you mean video?) "
         "(text, image, audio, video)"),
        ('[models."x"]\nbase = "qwen3-omni-flash"\ninput = ["text", "image"]\n',
         'models.toml: [models."x"] input: must include audio (every Qwen-Omni model reads '
         "it)"),
        ('[models."x"]\nbase = "qwen3-omni-flash"\naliases = ["qwen-omni-turbo-latest"]\n',
         "models.toml: [models.\"x\"] alias 'qwen-omni-turbo-latest' is already an alias of "
         "built-in qwen-omni-turbo"),
        ('[models."qwen3-omni-flash-0915"]\nmax_output = 10\n',
         "models.toml: [models.\"qwen3-omni-flash-0915\"] name: 'qwen3-omni-flash-0915' is an "
         'alias of built-in qwen3-omni-flash: name the table [models."qwen3-omni-flash"] to '
         "change that model, or pick a new name"),
        ('[models."a"]\nbase = "qwen-omni-turbo"\n[models."b"]\nbase = "qwen-omni-turbo"\n'
         'aliases = ["A"]\n',
         "models.toml: [models.\"b\"] alias 'A' is already the name of another entry a"),
        ('[models."x"]\nbase = "qwen3-omni-flash"\n[models."x".audio]\nmax_secs = 5\n',
         'models.toml: [models."x"] audio.max_secs: unknown key (did you mean max_seconds?)'),
        ('[models."x"]\nbase = "qwen3-omni-flash"\n[models."x".prices.eu]\n'
         "input_per_million = 1\noutput_per_million = 2\n",
         'models.toml: [models."x"] prices.eu: unknown region (intl or cn)'),
        ('[models."x"]\nbase = "qwen3-omni-flash"\n[models."x".prices.intl]\n'
         "input_per_million = -1\noutput_per_million = 2\n",
         'models.toml: [models."x"] prices.intl.input_per_million: must be dollars per '
         "million tokens (0 or more), got -1"),
        ('[models."x"]\nbase = "qwen3-omni-flash"\nvoices = ["Cherry", "cherry"]\n',
         "models.toml: [models.\"x\"] voices: voice 'cherry' is listed twice"),
        ('[models."x"]\nbase = "qwen3-omni-flash"\naudio_output_rate = 44\n',
         'models.toml: [models."x"] audio_output_rate: must be a sample rate in Hz (8000 to '
         "192000), got 44"),
        ('[models."x"]\nkind = "chat"\ninput = ["text", "audio"]\n',
         'models.toml: [models."x"] context_window: missing (and no base model): give '
         'context_window, max_input, max_output, audio or base = "<built-in model>"'),
        ('[models."x"]\nbase = "qwen-omni-turbo"\ninput = ["text", "audio", "image"]\n'
         "[models.\"y\"]\nbase = \"qwen3-omni-30b-a3b-captioner\"\n"
         'input = ["text", "audio", "image"]\n',
         'models.toml: [models."y"] input: lists image but there is no [image] table (nor a '
         "base model with one)"),
        ('[realtime."qwen3.5-omni-flash-realtime"]\nvoices = ["Cherry"]\n',
         'models.toml: [realtime] realtime models cannot be added by a models file yet (only '
         '[models."name"] tables)'),
        ('[model."x"]\nkind = "chat"\n',
         "models.toml: model: unknown table (did you mean models?)"),
        ('[models."x"\nkind = "chat"\n',
         "models.toml: not valid TOML: Expected ']' at the end of a table declaration (at "
         "line 1, column 12)"),
    ],
)
def test_each_mistake_is_one_line(tmp_path: Path, text: str, line: str) -> None:
    assert problems(tmp_path, text) == [line]


def test_every_mistake_is_reported_at_once_and_nothing_changes(tmp_path: Path) -> None:
    path = models_file(tmp_path, '[models."x"]\nbase = "qwen3-omni-flash"\nmax_output = 0\n'
                       'kind = "bot"\n[models."y"]\nbase = "nope"\n')
    with pytest.raises(ConfigError) as caught:
        Settings(OMNICORD_MODELS_FILE=path)
    lines = str(caught.value).splitlines()
    assert lines[0] == "OMNICORD_MODELS_FILE: 3 mistakes:"
    assert [line.split("] ")[1].split(":")[0] for line in lines[1:]] == [
        "max_output", "kind", "base"]
    assert all(line.startswith(f"  {path}: [models.") for line in lines[1:])
    assert catalog.active_catalog() is BUILTIN_CATALOG


def test_a_missing_file_is_one_line(tmp_path: Path) -> None:
    with pytest.raises(ModelsFileError) as caught:
        Settings(OMNICORD_MODELS_FILE=tmp_path / "nope.toml")
    assert caught.value.problems == (
        f"{tmp_path / 'nope.toml'}: cannot read it: No such file or directory",)


def test_the_built_ins_have_no_origin_but_built_in() -> None:
    assert {m.origin for m in MODELS} == {"built-in"}
    assert BUILTIN_CATALOG.models == MODELS
