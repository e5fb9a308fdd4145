"""Shard settings: OMNICORD_SHARD_COUNT and OMNICORD_SHARD_IDS (``run --shard-count/--shard-ids``),
parsed and checked up front, and one clear line from the command line for a bad one."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from omnicord.errors import ConfigError
from omnicord.settings import load_settings, parse_shard_ids

OMNICORD = Path(sys.executable).with_name("omnicord")  # the installed console script


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for name in list(os.environ):
        if name.startswith(("OMNICORD_", "DASHSCOPE_", "DISCORD_")):
            monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)  # no .env


def clean_environment() -> dict[str, str]:
    """This process's environment without any Omnicord, DashScope or Discord setting."""
    return {k: v for k, v in os.environ.items()
            if not k.startswith(("OMNICORD_", "DASHSCOPE_", "DISCORD_"))}


def run_omnicord(*args: str, cwd: Path, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(OMNICORD), *args], env={**clean_environment(), **env}, cwd=cwd,
                          capture_output=True, text=True, timeout=60)


@pytest.mark.parametrize(
    ("text", "ids"),
    [("0", (0,)), ("0-3", (0, 1, 2, 3)), ("0-3,8", (0, 1, 2, 3, 8)),
     ("8, 0-1 ,", (0, 1, 8)), ("0-2,1-3", (0, 1, 2, 3)), ("5-5", (5,))],
)
def test_shard_ids_parse_to_sorted_ids(text: str, ids: tuple[int, ...]) -> None:
    assert parse_shard_ids(text) == ids


@pytest.mark.parametrize("text", ["", ",", "a", "3-1", "-1", "1-", "1-2-3", "0..3", "1.5"])
def test_bad_shard_ids_are_value_errors(text: str) -> None:
    with pytest.raises(ValueError, match="0-3,8"):
        parse_shard_ids(text)


def test_no_shard_settings_means_discords_recommendation() -> None:
    settings = load_settings(OMNICORD_SHARD_COUNT=" ", OMNICORD_SHARD_IDS="")
    assert (settings.shard_count, settings.shard_ids) == (None, None)


def test_shard_settings_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OMNICORD_SHARD_COUNT", "16")
    monkeypatch.setenv("OMNICORD_SHARD_IDS", "0-3,8")
    settings = load_settings()
    assert (settings.shard_count, settings.shard_ids) == (16, (0, 1, 2, 3, 8))
    assert load_settings(OMNICORD_SHARD_COUNT=16, OMNICORD_SHARD_IDS=None).shard_ids is None


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"OMNICORD_SHARD_IDS": "0-3"},
         "OMNICORD_SHARD_IDS needs OMNICORD_SHARD_COUNT (the total)"),
        ({"OMNICORD_SHARD_IDS": "1,5", "OMNICORD_SHARD_COUNT": 2},
         "OMNICORD_SHARD_IDS: shard 5 is not below OMNICORD_SHARD_COUNT=2"),
        ({"OMNICORD_SHARD_IDS": "zero", "OMNICORD_SHARD_COUNT": 2},
         "OMNICORD_SHARD_IDS: bad shard range 'zero': use ids and ranges like 0-3,8"),
        ({"OMNICORD_SHARD_COUNT": 0}, "OMNICORD_SHARD_COUNT: "),
        ({"OMNICORD_SHARD_COUNT": "many"}, "OMNICORD_SHARD_COUNT: "),
    ],
)
def test_bad_shard_settings_are_one_config_error(overrides: dict[str, object],
                                                 message: str) -> None:
    with pytest.raises(ConfigError) as raised:
        load_settings(**overrides)
    assert str(raised.value).startswith(message)
    assert "\n" not in str(raised.value)


def test_run_with_a_shard_outside_the_count_prints_one_line(tmp_path: Path) -> None:
    done = run_omnicord("run", "--shard-ids", "5", "--shard-count", "2", cwd=tmp_path)
    assert done.returncode == 2
    assert done.stdout == ""
    assert done.stderr.splitlines() == [
        "omnicord: error: OMNICORD_SHARD_IDS: shard 5 is not below OMNICORD_SHARD_COUNT=2"]


def test_run_with_shard_ids_but_no_count_in_the_environment_prints_one_line(
    tmp_path: Path,
) -> None:
    done = run_omnicord("run", cwd=tmp_path, OMNICORD_SHARD_IDS="0-3")
    assert done.returncode == 2
    assert done.stderr.splitlines() == [
        "omnicord: error: OMNICORD_SHARD_IDS needs OMNICORD_SHARD_COUNT (the total)"]


def test_run_flags_override_the_environment(tmp_path: Path) -> None:
    done = run_omnicord("run", "--shard-count", "8", "--shard-ids", "5", cwd=tmp_path,
                        OMNICORD_SHARD_COUNT="2", OMNICORD_SHARD_IDS="0")
    assert done.returncode == 2  # the shards are fine; the missing token is next
    [line] = done.stderr.splitlines()
    assert line.startswith("omnicord: error: DISCORD_TOKEN is not set")
