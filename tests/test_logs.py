"""``omnicord.logs.configure_logging``: levels (OMNICORD_LOG_LEVEL), the rotated log file
(OMNICORD_LOG_FILE, owner-only; one line and stderr only if it cannot be written), secrets
masked in the file whatever logs them, and no content in Omnicord's handlers (libraries'
payloads omitted; a host's handlers untouched)."""

from __future__ import annotations

import io
import logging
import os
import signal
import stat
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from omnicord.errors import ConfigError
from omnicord.logs import configure_logging
from omnicord.settings import load_settings

from tests.cli.test_run_stop import Running, assert_closed_cleanly
from tests.cli.test_run_stop import start as start
from tests.conftest import run_cli

KEY = "sk-logs-test-key-0123456789"
TOKEN = "MTIz.discord-token-for-logs.XYZ"
MARKER = "quokkaviolet"  # a member's word


@pytest.fixture(autouse=True)
def _logging_restored() -> Iterator[None]:
    """The root logger's handlers and levels as they were before the test."""
    root, ours = logging.getLogger(), logging.getLogger("omnicord")
    handlers, levels = list(root.handlers), (root.level, ours.level)
    yield
    for handler in [h for h in root.handlers if h not in handlers]:
        root.removeHandler(handler)
        handler.close()
    root.setLevel(levels[0])
    ours.setLevel(levels[1])


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
    load_settings(DASHSCOPE_API_KEY=KEY, DISCORD_TOKEN=TOKEN)  # registers both for masking
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


def test_library_payloads_are_omitted_in_omnicords_handlers_only() -> None:
    load_settings(DASHSCOPE_API_KEY=KEY, DISCORD_TOKEN=TOKEN)  # the secrets' record factory is on
    host = io.StringIO()
    host_handler = logging.StreamHandler(host)  # a host bot's own handler, before Omnicord's
    logging.getLogger().addHandler(host_handler)
    ours = io.StringIO()
    configure_logging("DEBUG", stream=ours)
    event = {"t": "MESSAGE_CREATE", "d": {"content": f"hi {MARKER}", "id": "1"}}
    logging.getLogger("discord.gateway").debug("For Shard ID %s: WebSocket Event: %s", 3, event)
    logging.getLogger("discord.http").debug("%s %s with %s has returned %s", "POST",
                                            "/channels/7/messages", f'{{"content": "{MARKER}"}}',
                                            200)
    logging.getLogger("openai._base_client").debug("Request options: %s", {"json_data": MARKER})
    logging.getLogger("httpx").info("HTTP Request: %(method)s %(url)s %(status)d",
                                    {"method": "GET", "url": f"/{MARKER}.png", "status": 200})
    body = f"response body {MARKER} " + "x" * 300
    logging.getLogger("httpcore.http11").debug(body)
    logging.getLogger("discord.client").debug("logging in using static token")
    logging.getLogger("discord.http").warning("We are being rate limited. %s responded with "
                                              "429", "PATCH /channels/7")
    logging.getLogger("omnicord.chat").debug("ours keep their %s and %d", "words", 2)
    logging.getLogger().removeHandler(host_handler)
    written = ours.getvalue()
    assert MARKER not in written
    assert "For Shard ID 3: WebSocket Event: [omitted]" in written  # numbers stay
    assert "[omitted] [omitted] with [omitted] has returned 200" in written
    assert "Request options: [omitted]" in written
    assert "HTTP Request: [omitted] [omitted] 200" in written  # mapping arguments too
    assert f"httpcore.http11: [omitted] ({len(body)} characters)" in written  # pre-formatted
    assert "discord.client: logging in using static token" in written  # short, no arguments
    assert "rate limited. PATCH /channels/7 responded with 429" in written  # warnings whole
    assert "ours keep their words and 2" in written
    assert host.getvalue().count(MARKER) == 5  # the host's handler saw every record unchanged
    assert "[omitted]" not in host.getvalue()


def test_log_files_and_their_backups_are_owner_only(tmp_path: Path) -> None:
    path = tmp_path / "omnicord.log"
    umask = os.umask(0o022)
    try:
        configure_logging("INFO", path, max_bytes=500, backups=2, stream=io.StringIO())
        for number in range(30):
            logging.getLogger("omnicord").info("line %03d %s", number, "x" * 40)
    finally:
        os.umask(umask)
    files = sorted(tmp_path.iterdir())
    assert [p.name for p in files] == ["omnicord.log", "omnicord.log.1", "omnicord.log.2"]
    assert {stat.S_IMODE(p.stat().st_mode) for p in files} == {0o600}


DEV_FULL = Path("/dev/full")
needs_dev_full = pytest.mark.skipif(not DEV_FULL.exists(), reason="no /dev/full here")


@needs_dev_full
def test_a_log_file_that_cannot_be_written_is_one_line_then_stderr_only(
    capsys: pytest.CaptureFixture[str],
) -> None:
    stream = io.StringIO()
    configure_logging("INFO", DEV_FULL, stream=stream)
    for number in range(5):
        logging.getLogger("omnicord").info("line %d", number)
    err = capsys.readouterr().err
    assert err == ("omnicord: OMNICORD_LOG_FILE: cannot write the log file /dev/full (No space "
                   "left on device): logging to stderr only\n")
    assert stream.getvalue().count("omnicord: line ") == 5


@needs_dev_full
def test_omnicord_run_with_a_full_log_device_says_so_once(
    start: Callable[..., Running],
) -> None:
    running = start(OMNICORD_LOG_FILE=str(DEV_FULL))
    running.ask("hello there")
    running.stop(signal.SIGTERM)
    assert_closed_cleanly(running)
    errors = running.errors()
    assert [line for line in errors.splitlines() if "OMNICORD_LOG_FILE" in line] == [
        "omnicord: OMNICORD_LOG_FILE: cannot write the log file /dev/full (No space left on "
        "device): logging to stderr only"]
    assert "Logging error" not in errors
    assert " reply scope=" in errors  # logging went on, on stderr


class Keep(logging.Handler):
    """A host bot's own handler: keeps every record it is given, as given."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.records: list[logging.LogRecord] = []
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)
        self.lines.append(logging.Formatter("%(message)s").format(record))


def test_a_host_record_without_omnicords_secrets_reaches_the_host_as_made() -> None:
    load_settings(DASHSCOPE_API_KEY=KEY, DISCORD_TOKEN=TOKEN)  # Omnicord's masking is on
    host = Keep()
    logging.getLogger().addHandler(host)
    ours = io.StringIO()
    configure_logging("DEBUG", stream=ours)
    args = (42, "general")
    logging.getLogger("host.members").warning("member %s joined %s", *args)
    shaped = "sk-hostsownkey123456"  # shaped like a key, but the host's business
    logging.getLogger("host.api").warning("calling with %s", shaped)
    try:
        raise ValueError(f"host failure with Bearer {shaped}")
    except ValueError:
        logging.getLogger("host.api").exception("failed")
    logging.getLogger().removeHandler(host)
    joined, called, failed = host.records
    assert (joined.msg, joined.args) == ("member %s joined %s", args)  # grouping keys intact
    assert (called.msg, called.args) == ("calling with %s", (shaped,))
    assert failed.exc_text is None or shaped in failed.exc_text
    assert f"Bearer {shaped}" in host.lines[2]  # the host formats its own traceback
    written = ours.getvalue()  # Omnicord's own handler masks key shapes in all it writes
    assert shaped not in written and "member 42 joined general" in written


def test_omnicords_secrets_are_masked_for_every_handler_in_any_record() -> None:
    load_settings(DASHSCOPE_API_KEY=KEY, DISCORD_TOKEN=TOKEN)
    host = Keep()
    logging.getLogger().addHandler(host)
    ours = io.StringIO()
    configure_logging("INFO", stream=ours)
    logging.getLogger("host.debugging").warning("the bot's key is %s", KEY)  # a host's slip
    logging.getLogger("omnicord.test").warning("upstream said Bearer %s", "abc-def-ghi")
    try:
        raise RuntimeError(f"gateway refused token {TOKEN}")
    except RuntimeError:
        logging.getLogger("discord.client").exception("while logging in")
    logging.getLogger().removeHandler(host)
    everything = "\n".join(host.lines) + ours.getvalue()
    assert KEY not in everything and TOKEN not in everything
    assert "abc-def-ghi" not in everything  # Omnicord's own lines: shapes masked too
    assert host.records[0].getMessage() == "the bot's key is [redacted]"
