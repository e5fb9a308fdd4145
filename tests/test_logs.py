"""``omnicord.logs.configure_logging``: levels (OMNICORD_LOG_LEVEL), the rotated log file
(OMNICORD_LOG_FILE), and secrets masked in the file whatever logs them."""

from __future__ import annotations

import io
import logging
from pathlib import Path

import pytest
from omnicord.errors import ConfigError
from omnicord.logs import configure_logging
from omnicord.settings import Settings

from tests.conftest import run_cli

KEY = "sk-logs-test-key-0123456789"
TOKEN = "MTIz.discord-token-for-logs.XYZ"


def test_levels_for_omnicord_and_the_libraries_underneath() -> None:
    stream = io.StringIO()
    configure_logging("INFO", stream=stream)
    logging.getLogger("omnicord.reply").info("reply shown")
    logging.getLogger("discord.gateway").info("library chatter")
    logging.getLogger("discord.gateway").warning("library trouble")
    assert stream.getvalue().count("\n") == 2
    assert "reply shown" in stream.getvalue() and "library trouble" in stream.getvalue()
    configure_logging("WARNING", stream=stream)  # configuring again replaces the handlers
    logging.getLogger("omnicord").info("not at WARNING")
    assert "not at WARNING" not in stream.getvalue()
    configure_logging("DEBUG", stream=stream)
    logging.getLogger("discord.gateway").debug("everything at DEBUG")
    assert stream.getvalue().count("everything at DEBUG") == 1


def test_the_log_file_is_written_and_rotated(tmp_path: Path) -> None:
    path = tmp_path / "logs" / "omnicord.log"  # its folder is made
    configure_logging("INFO", path, max_bytes=2_000, backups=2, stream=io.StringIO())
    for number in range(100):
        logging.getLogger("omnicord").info("line %03d %s", number, "x" * 40)
    files = sorted(p.name for p in path.parent.iterdir())
    assert files == ["omnicord.log", "omnicord.log.1", "omnicord.log.2"]
    assert all(p.stat().st_size <= 2_000 for p in path.parent.iterdir())
    assert "line 099" in path.read_text()


def test_a_secret_never_reaches_the_file(tmp_path: Path) -> None:
    Settings(DASHSCOPE_API_KEY=KEY, DISCORD_TOKEN=TOKEN)  # registers both for masking
    path = tmp_path / "omnicord.log"
    configure_logging("INFO", path, stream=io.StringIO())
    log = logging.getLogger("omnicord.test")
    log.error("upstream said: invalid key %s", KEY)
    try:
        raise RuntimeError(f"gateway refused token {TOKEN}")
    except RuntimeError:
        log.exception("while logging in")
    for handler in logging.getLogger().handlers:
        handler.flush()
    written = path.read_text()
    assert "invalid key [redacted]" in written and "gateway refused token [redacted]" in written
    assert KEY not in written and TOKEN not in written


def test_an_unwritable_log_file_is_one_config_error(tmp_path: Path) -> None:
    folder = tmp_path / "a-folder"
    folder.mkdir()
    with pytest.raises(ConfigError, match="OMNICORD_LOG_FILE"):
        configure_logging("INFO", folder, stream=io.StringIO())


def test_run_with_an_unwritable_log_file_is_one_line_and_exit_2(
    cli_env: dict[str, str], tmp_path: Path
) -> None:
    (tmp_path / "logs").mkdir()
    env = {**cli_env, "DISCORD_TOKEN": TOKEN, "OMNICORD_LOG_FILE": str(tmp_path / "logs")}
    result = run_cli(["run"], env, tmp_path)
    assert result.returncode == 2
    [line] = result.stderr.splitlines()
    assert line.startswith("omnicord: error: OMNICORD_LOG_FILE: cannot write")
