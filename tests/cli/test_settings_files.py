"""Settings hygiene from a real ``omnicord`` process: unknown names, secrets read from
``*_FILE``, ``--env-file``, ``omnicord init``, and a model service out of reach named by host."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import REPO, run_cli
from tests.doubles.fake_dashscope import FakeDashScope


def bare_env(tmp_path: Path) -> dict[str, str]:
    """No Omnicord setting at all from the host, and the database in the scratch folder."""
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("DASHSCOPE_", "OMNICORD_", "DISCORD_"))}
    env.update(PYTHONPATH=str(REPO), OMNICORD_DB=str(tmp_path / "omnicord.db"))
    return env


def error_lines(stderr: str) -> list[str]:
    assert "Traceback" not in stderr
    return [line for line in stderr.splitlines() if line.startswith("omnicord: error:")]


def test_an_unknown_name_is_one_warning_naming_the_closest_setting(tmp_path: Path) -> None:
    env = bare_env(tmp_path) | {"omnicord_modle": "qwen-omni-turbo"}
    (tmp_path / ".env").write_text("OMNICORD_VOICE=Cherry\nOMNICORD_CACHE_MAX_MD=5\n")
    result = run_cli(["voices"], env, tmp_path)
    assert result.returncode == 0, result.stderr
    assert sorted(result.stderr.splitlines()) == [
        "omnicord: warning: OMNICORD_CACHE_MAX_MD in .env is not an Omnicord setting, so it is "
        "ignored; did you mean OMNICORD_CACHE_MAX_MB?",
        "omnicord: warning: omnicord_modle in the environment is not an Omnicord setting, so it "
        "is ignored; did you mean OMNICORD_MODEL?",
    ]
    doctor = run_cli(["doctor", "--offline"], env, tmp_path)
    notes = [line for line in doctor.stdout.splitlines() if line.startswith("note  settings:")]
    assert notes == [
        "note  settings: omnicord_modle in the environment is not an Omnicord setting, so it is "
        "ignored — did you mean OMNICORD_MODEL?",
        "note  settings: OMNICORD_CACHE_MAX_MD in .env is not an Omnicord setting, so it is "
        "ignored — did you mean OMNICORD_CACHE_MAX_MB?",
    ]
    assert "warning" not in doctor.stderr


def test_the_key_is_read_from_its_file_and_never_shown(
    dashscope: FakeDashScope, cli_env: dict[str, str], tmp_path: Path
) -> None:
    (tmp_path / "key").write_text(dashscope.api_key + "\n")
    env = {k: v for k, v in cli_env.items() if k != "DASHSCOPE_API_KEY"}
    env["DASHSCOPE_API_KEY_FILE"] = str(tmp_path / "key")
    result = run_cli(["ask", "Hello there", "--text-only"], env, tmp_path)
    assert result.returncode == 0, result.stderr
    assert "Hello there" in result.stdout
    assert dashscope.api_key not in result.stdout + result.stderr


@pytest.mark.parametrize("problem", ["missing", "both set", "unreadable"])
def test_a_FILE_setting_that_cannot_be_used_is_one_line_and_exit_2(
    tmp_path: Path, problem: str
) -> None:
    env = bare_env(tmp_path) | {"DISCORD_TOKEN_FILE": str(tmp_path / "token")}
    if problem == "both set":
        (tmp_path / "token").write_text("file-token-123456")
        env["DISCORD_TOKEN"] = "env-token-123456"
    elif problem == "unreadable":
        (tmp_path / "token").mkdir()
    for command in (["voices"], ["run"]):
        result = run_cli(command, env, tmp_path)
        assert result.returncode == 2, result.stderr
        (line,) = error_lines(result.stderr)
        assert line.startswith({
            "missing": f"omnicord: error: DISCORD_TOKEN_FILE: cannot read {tmp_path}/token: No "
                       "such file",
            "both set": "omnicord: error: DISCORD_TOKEN and DISCORD_TOKEN_FILE are both set in "
                        "the environment: keep one",
            "unreadable": f"omnicord: error: DISCORD_TOKEN_FILE: cannot read {tmp_path}/token:",
        }[problem])
        assert "token-123456" not in result.stderr


def test_env_file_names_the_settings_file_before_or_after_the_command(tmp_path: Path) -> None:
    env = bare_env(tmp_path)
    (tmp_path / "conf").mkdir()
    (tmp_path / "conf" / "omnicord.env").write_text(
        "OMNICORD_MODEL=qwen-omni-turbo\nOMNICORD_VOICE=Ethan\n")
    for args in (["--env-file", "conf/omnicord.env", "voices"],
                 ["voices", "--env-file", "conf/omnicord.env"]):
        result = run_cli(args, env, tmp_path)
        assert result.returncode == 0, result.stderr
        assert result.stdout.split() == ["Cherry", "Serena", "Ethan", "Chelsie"]
    for args in (["--env-file", "nothing.env", "voices"], ["db", "status", "--env-file", "conf"]):
        result = run_cli(args, env, tmp_path)
        assert result.returncode == 2
        assert error_lines(result.stderr) == [
            "omnicord: error: --env-file nothing.env does not exist" if "voices" in args
            else "omnicord: error: --env-file conf is not a file"]
    doctor = run_cli(["doctor", "--offline", "--env-file", "conf/omnicord.env"], env, tmp_path)
    assert doctor.stdout.splitlines()[0] == (
        f"ok    settings: read {tmp_path}/conf/omnicord.env and the environment")


def test_init_writes_a_private_commented_env_once(tmp_path: Path) -> None:
    env = bare_env(tmp_path)
    result = run_cli(["init"], env, tmp_path)
    assert result.returncode == 0, result.stderr
    written = (tmp_path / ".env").read_text()
    assert written.endswith((REPO / ".env.example").read_text())
    assert written.startswith("# Written by `omnicord init`")
    assert stat.S_IMODE((tmp_path / ".env").stat().st_mode) == 0o600
    assert "omnicord: wrote .env" in result.stderr
    (tmp_path / ".env").write_text("DASHSCOPE_API_KEY=sk-mine-0123456789\n")
    again = run_cli(["init"], env, tmp_path)
    assert again.returncode == 2
    assert error_lines(again.stderr) == [
        "omnicord: error: .env already exists: it is left as it is (edit it, or move it away to "
        "write a fresh one)"]
    assert (tmp_path / ".env").read_text() == "DASHSCOPE_API_KEY=sk-mine-0123456789\n"
    (tmp_path / "link.env").symlink_to(tmp_path / "elsewhere")
    linked = run_cli(["init", "--env-file", "link.env"], env, tmp_path)
    assert linked.returncode == 2 and not (tmp_path / "elsewhere").exists()
    chosen = run_cli(["--env-file", "conf.env", "init"], env, tmp_path)
    assert chosen.returncode == 0 and (tmp_path / "conf.env").read_text() == written
    missing = run_cli(["init", "--env-file", "no/such/folder.env"], env, tmp_path)
    assert missing.returncode == 2
    assert error_lines(missing.stderr) == [
        "omnicord: error: cannot create no/such/folder.env: No such file or directory"]
    without_db = {k: v for k, v in env.items() if k != "OMNICORD_DB"}
    used = run_cli(["--env-file", "conf.env", "voices"], without_db, tmp_path)
    assert (used.returncode, used.stderr) == (0, "")  # valid, and every name in it is known


def test_a_model_service_out_of_reach_is_named_by_host_never_key(
    cli_env: dict[str, str], tmp_path: Path
) -> None:
    env = cli_env | {"DASHSCOPE_BASE_URL": "http://127.0.0.1:9/compatible-mode/v1"}
    result = run_cli(["ask", "Hello", "--text-only"], env, tmp_path)
    assert result.returncode == 1
    assert error_lines(result.stderr) == [
        "omnicord: error: Could not reach the model service at 127.0.0.1:9; try again shortly"]
    assert cli_env["DASHSCOPE_API_KEY"] not in result.stderr


def test_sync_with_discord_out_of_reach_names_the_host_never_the_token(
    cli_env: dict[str, str], tmp_path: Path
) -> None:
    token = "MTIzNDU2.unreachable.abcdef"
    env = cli_env | {"DISCORD_TOKEN": token,
                     "OMNICORD_TEST_DISCORD_API": "http://127.0.0.1:9/api/v10"}  # nothing there
    result = subprocess.run([sys.executable, "-m", "tests.doubles.run_omnicord", "sync"],
                            env=env, cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert result.returncode == 1
    assert error_lines(result.stderr) == [
        "omnicord: error: Could not reach Discord at 127.0.0.1:9 (ClientConnectorError); check "
        "the network and try again"]
    assert token not in result.stderr
