"""A models file end to end on the command line: ``omnicord models``, ``ask`` with a model only
the file knows, an overridden limit changing the request's budget, a modality a model lacks,
and a bad file refused in one line per mistake."""

from __future__ import annotations

import json
from pathlib import Path

from tests.conftest import run_cli
from tests.doubles.fake_dashscope import FakeDashScope
from tests.doubles.fake_dashscope.rules import FLASH, TURBO, models_added
from tests.doubles.media import image

PLUS = '''
[models."qwen3.5-omni-plus"]
base = "qwen3-omni-flash"
aliases = ["qwen3.5-omni-plus-2026-01-01"]
context_window = 131072
max_input = 98304
max_output = 32768
[models."qwen3.5-omni-plus".prices.intl]
input_per_million = 0.5
output_per_million = 2.0
'''


def with_file(env: dict[str, str], folder: Path, text: str) -> dict[str, str]:
    path = folder / "models.toml"
    path.write_text(text, encoding="utf-8")
    return {**env, "OMNICORD_MODELS_FILE": str(path)}


def test_models_lists_the_catalog_and_where_each_entry_came_from(
    cli_env: dict[str, str], tmp_path: Path
) -> None:
    env = with_file(cli_env, tmp_path, PLUS + '[models."qwen-omni-turbo"]\nmax_output = 1000\n')
    listed = run_cli(["models"], env, tmp_path)
    assert listed.returncode == 0, listed.stderr
    lines = {line.split("\t")[0]: line for line in listed.stdout.splitlines()}
    assert list(lines) == ["qwen3-omni-flash", "qwen-omni-turbo", "qwen2.5-omni-7b",
                           "qwen3-omni-30b-a3b-captioner", "qwen3.5-omni-plus"]
    assert lines["qwen3-omni-flash"].split("\t")[6].startswith("from built-in")
    models_toml = tmp_path / "models.toml"
    assert f'from {models_toml} [models."qwen3.5-omni-plus"]' in lines["qwen3.5-omni-plus"]
    assert "aliases: qwen3.5-omni-plus-2026-01-01" in lines["qwen3.5-omni-plus"]
    assert "intl $0.5/$2" in lines["qwen3.5-omni-plus"]
    assert "output 1,000" in lines["qwen-omni-turbo"]
    assert f'from {models_toml} [models."qwen-omni-turbo"]' in lines["qwen-omni-turbo"]

    data = json.loads(run_cli(["models", "--json"], env, tmp_path).stdout)["models"]
    by_name = {entry["name"]: entry for entry in data}
    assert by_name["qwen3-omni-flash"]["origin"] == "built-in"
    assert by_name["qwen3.5-omni-plus"] | {"voices": []} == {
        "name": "qwen3.5-omni-plus", "kind": "chat",
        "origin": f'{models_toml} [models."qwen3.5-omni-plus"]',
        "aliases": ["qwen3.5-omni-plus-2026-01-01"],
        "input": ["text", "image", "audio", "video"], "context_window": 131_072,
        "max_input": 98_304, "max_output": 32_768, "max_input_thinking": 16_384,
        "voices": [], "audio_output_rate": 24_000,
        "prices": {"intl": {"input_per_million": 0.5, "output_per_million": 2.0}}}
    assert len(by_name["qwen3.5-omni-plus"]["voices"]) == 17
    assert by_name["qwen3-omni-30b-a3b-captioner"]["prices"]["cn"]["input_per_million"] == 2.265


def test_without_a_file_models_lists_the_built_ins(cli_env: dict[str, str],
                                                  tmp_path: Path) -> None:
    listed = run_cli(["models"], cli_env, tmp_path)
    assert listed.returncode == 0, listed.stderr
    assert [line.split("\t")[0] for line in listed.stdout.splitlines()] == [
        "qwen3-omni-flash", "qwen-omni-turbo", "qwen2.5-omni-7b", "qwen3-omni-30b-a3b-captioner"]
    assert all(line.split("\t")[6].startswith("from built-in")
               for line in listed.stdout.splitlines())


def test_ask_uses_a_model_only_the_file_knows(
    dashscope: FakeDashScope, cli_env: dict[str, str], tmp_path: Path
) -> None:
    refused = run_cli(["ask", "hello", "--model", "qwen3.5-omni-plus"], cli_env, tmp_path)
    assert refused.returncode == 2
    assert "Unknown chat model 'qwen3.5-omni-plus'" in refused.stderr
    env = with_file(cli_env, tmp_path, PLUS)
    with models_added({"qwen3.5-omni-plus": FLASH, "qwen3.5-omni-plus-2026-01-01": FLASH}):
        asked = run_cli(["ask", "hello", "--model", "qwen3.5-omni-plus", "--text-only"], env,
                        tmp_path)
        assert asked.returncode == 0, asked.stderr
        assert asked.stdout == "Echo: hello\n"
        by_setting = run_cli(["ask", "again", "--text-only"],
                             {**env, "OMNICORD_MODEL": "qwen3.5-omni-plus-2026-01-01"}, tmp_path)
        assert by_setting.returncode == 0, by_setting.stderr
    assert [body["model"] for body in dashscope.accepted] == [
        "qwen3.5-omni-plus", "qwen3.5-omni-plus-2026-01-01"]
    assert "Traceback" not in refused.stderr + asked.stderr + by_setting.stderr


def test_the_fake_still_refuses_a_model_the_service_does_not_serve(
    dashscope: FakeDashScope, cli_env: dict[str, str], tmp_path: Path
) -> None:
    asked = run_cli(["ask", "hello", "--model", "qwen3.5-omni-plus", "--text-only"],
                    with_file(cli_env, tmp_path, PLUS), tmp_path)
    assert asked.returncode == 1  # the service's refusal, not ours
    assert "qwen3.5-omni-plus" in asked.stderr and dashscope.accepted == []


def test_an_overridden_max_output_changes_the_requests_budget(
    dashscope: FakeDashScope, cli_env: dict[str, str], tmp_path: Path
) -> None:
    """Turbo's input budget is its input limit less min(2,048, max_output, limit / 4): with
    max_input 1,000 that keeps 250 tokens for the reply, 100 once max_output is 100."""
    text = "word " * 480  # 2,400 ASCII characters: about 800 tokens, over 750 but under 900
    small = with_file(cli_env, tmp_path, '[models."qwen-omni-turbo"]\nmax_input = 1000\n')
    refused = run_cli(["ask", text, "--model", "qwen-omni-turbo", "--text-only"], small,
                      tmp_path)
    assert refused.returncode == 2
    assert "about 804 tokens, over the 750 this model can read" in refused.stderr
    assert dashscope.requests == []
    smaller_reply = with_file(cli_env, tmp_path,
                              '[models."qwen-omni-turbo"]\nmax_input = 1000\nmax_output = 100\n')
    asked = run_cli(["ask", text, "--model", "qwen-omni-turbo", "--text-only"], smaller_reply,
                    tmp_path)
    assert asked.returncode == 0, asked.stderr
    assert [body["model"] for body in dashscope.accepted] == ["qwen-omni-turbo"]


def test_a_model_without_images_refuses_an_image_in_one_line(
    dashscope: FakeDashScope, cli_env: dict[str, str], tmp_path: Path
) -> None:
    env = with_file(cli_env, tmp_path, '[models."omni-ears"]\nbase = "qwen-omni-turbo"\n'
                    'input = ["text", "audio"]\n')
    picture = image(tmp_path / "cat.png", 64, 64)
    with models_added({"omni-ears": TURBO}):
        asked = run_cli(["ask", "what is this", "--model", "omni-ears", "--text-only",
                         "--attach", str(picture)], env, tmp_path)
    assert asked.returncode == 2
    assert "omni-ears does not take images" in asked.stderr
    assert "Traceback" not in asked.stderr and dashscope.requests == []


def test_a_bad_file_stops_every_command_with_a_line_per_mistake(
    dashscope: FakeDashScope, cli_env: dict[str, str], tmp_path: Path
) -> None:
    env = with_file(cli_env, tmp_path, '[models."x"]\nbase = "qwen3-omni-flash"\n'
                    'max_output = -5\nmax_outptu = 3\n')
    path = tmp_path / "models.toml"
    for args in (["models"], ["ask", "hello"], ["voices"]):
        result = run_cli(args, env, tmp_path)
        assert result.returncode == 2, args
        assert result.stdout == ""
        assert result.stderr.splitlines() == [
            "omnicord: error: OMNICORD_MODELS_FILE: 2 mistakes:",
            f'  {path}: [models."x"] max_outptu: unknown key (did you mean max_output?)',
            f'  {path}: [models."x"] max_output: must be a positive integer, got -5',
        ]
    assert dashscope.requests == []


def test_doctor_reports_the_models_file(cli_env: dict[str, str], tmp_path: Path) -> None:
    env = with_file(cli_env, tmp_path, PLUS)
    path = tmp_path / "models.toml"
    good = run_cli(["doctor", "--offline"], env, tmp_path)
    assert (f"ok    models file: {path}: 1 entries loaded (qwen3.5-omni-plus)"
            in good.stdout.splitlines())
    path.write_text('[models."x"]\nbase = "nope"\n[models."y"]\nkind = "bot"\n'
                    'base = "qwen-omni-turbo"\n', encoding="utf-8")
    bad = run_cli(["doctor", "--offline"], env, tmp_path)
    assert bad.returncode == 1
    lines = bad.stdout.splitlines()
    assert "FAIL  settings: OMNICORD_MODELS_FILE: 2 mistakes in the models file (below)" in lines
    failed = [line for line in lines if line.startswith("FAIL  models file: ")]
    assert [line.split("] ")[1].split(":")[0] for line in failed] == ["base", "kind"]
    without = run_cli(["doctor", "--offline"], cli_env, tmp_path)
    assert "models file" not in without.stdout


def test_a_models_speech_is_written_at_its_own_rate(
    dashscope: FakeDashScope, cli_env: dict[str, str], tmp_path: Path
) -> None:
    import wave

    env = with_file(cli_env, tmp_path, PLUS.replace(
        "max_output = 32768", "max_output = 32768\naudio_output_rate = 16000"))
    out = tmp_path / "spoken.wav"
    with models_added({"qwen3.5-omni-plus": FLASH}):
        asked = run_cli(["ask", "hello", "--model", "qwen3.5-omni-plus", "--out", str(out)], env,
                        tmp_path)
    assert asked.returncode == 0, asked.stderr
    with wave.open(str(out)) as spoken:
        assert spoken.getframerate() == 16_000  # the model's own rate, not 24 kHz
        frames = spoken.getnframes()
    default = tmp_path / "default.wav"
    asked = run_cli(["ask", "hello", "--out", str(default)], cli_env, tmp_path)
    with wave.open(str(default)) as spoken:
        assert spoken.getframerate() == 24_000 and spoken.getnframes() == frames
