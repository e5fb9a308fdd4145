"""Hostile replies and hostile setups: garbage streams, endless trickles, secrets echoed back,
unwritable outputs, undecodable input, a refused bot token — each one line, never a traceback."""

from __future__ import annotations

import http.server
import io
import logging
import sqlite3
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import discord
import pytest
from omnicord import cli
from omnicord.cogs.delivery.friendly import friendly
from omnicord.cogs.runner import SWITCH_INTERVAL
from omnicord.errors import BadRequest
from omnicord.secrets import redact
from omnicord.settings import load_settings

from tests.conftest import run_cli
from tests.doubles.fake_dashscope import FakeDashScope, Fault
from tests.doubles.media import tone

SECRET = "MYSECRETKEY-7f3a9c1d2e"
TOKEN = "MTAx.discord-token_value.9zz"


def one_error_line(stderr: str) -> str:
    assert "Traceback" not in stderr
    errors = [line for line in stderr.splitlines() if line.startswith("omnicord: error:")]
    assert len(errors) == 1, stderr
    return errors[0]


def turns(env: dict[str, str]) -> int:
    path = Path(env["OMNICORD_DB"])
    if not path.exists():
        return 0
    with sqlite3.connect(path) as db:
        return db.execute("SELECT COUNT(*) FROM turns").fetchone()[0]


# --- garbage and endless streams ----------------------------------------------------------

def test_a_stream_with_garbage_json_is_one_line(
    dashscope: FakeDashScope, cli_env: dict[str, str], tmp_path: Path
) -> None:
    dashscope.add_fault(Fault(garbage_at_chunk=1))
    result = run_cli(["ask", "hi", "--session", "g", "--text-only"], cli_env, tmp_path)
    assert result.returncode == 1
    assert "could not be read" in one_error_line(result.stderr)
    assert turns(cli_env) == 0


def test_a_caption_stream_with_garbage_json_is_one_line(
    dashscope: FakeDashScope, cli_env: dict[str, str], tmp_path: Path
) -> None:
    dashscope.add_fault(Fault(garbage_at_chunk=0))
    result = run_cli(["caption", str(tone(tmp_path / "a.wav", 1.0))], cli_env, tmp_path)
    assert result.returncode == 1
    assert "could not be read" in one_error_line(result.stderr)


def test_a_trickling_reply_is_bounded_as_a_whole(
    dashscope: FakeDashScope, cli_env: dict[str, str], tmp_path: Path
) -> None:
    dashscope.add_fault(Fault(trickle_every=0.5))  # each read is well inside the timeout
    env = cli_env | {"OMNICORD_REQUEST_TIMEOUT": "1"}
    result = run_cli(["ask", "hi", "--session", "t", "--text-only"], env, tmp_path)
    assert result.returncode == 1  # run_cli's own 120 s timeout would have raised otherwise
    assert "took more than 4 s" in one_error_line(result.stderr)
    assert turns(env) == 0


# --- secrets are masked by value ------------------------------------------------------------

@pytest.fixture(scope="module")
def keyed_server() -> Iterator[FakeDashScope]:
    with FakeDashScope(api_key=SECRET) as server:
        yield server


@pytest.mark.parametrize("fault", [
    Fault(status=401, message=f"Invalid API-key provided: {SECRET}"),
    Fault(status=400, code="InvalidParameter", message=f"bad request from key {SECRET}"),
    Fault(error_event=True, code="InvalidParameter", message=f"stream refused {SECRET}"),
], ids=["401 body", "400 reason", "SSE error event"])
def test_an_echoed_key_of_any_shape_is_masked(
    keyed_server: FakeDashScope, cli_env: dict[str, str], tmp_path: Path, fault: Fault
) -> None:
    keyed_server.reset()
    keyed_server.add_fault(fault)
    env = cli_env | {"DASHSCOPE_API_KEY": SECRET, "DASHSCOPE_BASE_URL": keyed_server.base_url}
    result = run_cli(["ask", "hi", "--text-only"], env, tmp_path)
    assert result.returncode == 1
    assert SECRET not in result.stdout + result.stderr
    assert "[redacted]" in one_error_line(result.stderr)


def test_logs_and_member_messages_mask_the_configured_secrets() -> None:
    load_settings(DASHSCOPE_API_KEY=SECRET, DISCORD_TOKEN=TOKEN)  # masks both
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    logger = logging.getLogger("omnicord.test-secrets")
    logger.addHandler(handler)
    try:
        logger.warning("key %s and token %s", SECRET, TOKEN)
        try:
            raise RuntimeError(f"boom with {SECRET}")
        except RuntimeError:
            logger.exception("failed")
    finally:
        logger.removeHandler(handler)
    logged = stream.getvalue()
    assert SECRET not in logged and TOKEN not in logged
    assert logged.count("[redacted]") == 3 and "RuntimeError" in logged
    shown = friendly(BadRequest(f"The model service rejected the request: {SECRET}"))
    assert SECRET not in shown and "[redacted]" in shown
    assert redact(f"Bearer {TOKEN}") == "[redacted]"


# --- bad outputs and inputs ------------------------------------------------------------------

def test_out_into_a_missing_folder_is_refused_before_asking(
    dashscope: FakeDashScope, cli_env: dict[str, str], tmp_path: Path
) -> None:
    out = tmp_path / "no" / "such" / "folder" / "reply.ogg"
    result = run_cli(["ask", "hi", "--session", "o", "--out", str(out)], cli_env, tmp_path)
    assert result.returncode == 2
    assert "there is no folder" in one_error_line(result.stderr)
    assert dashscope.requests == [] and turns(cli_env) == 0


def test_a_reply_that_cannot_be_saved_is_not_remembered(
    dashscope: FakeDashScope, cli_env: dict[str, str], tmp_path: Path
) -> None:
    folder = tmp_path / "replies"
    folder.mkdir()
    out = folder / "reply.ogg"
    # The folder exists and is writable when checked; the file is a folder when written.
    dashscope.add_fault(Fault(first_token_delay=5.0))  # time to make the folder first
    process = subprocess.Popen([sys.executable, "-m", "omnicord", "ask", "hi", "--session", "w",
                                "--out", str(out)], env=cli_env, cwd=tmp_path, text=True,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    for _ in range(600):  # until the question reached the model service
        if dashscope.requests:
            break
        threading.Event().wait(0.05)
    out.mkdir()
    _, stderr = process.communicate(timeout=60)
    assert process.returncode == 2
    assert "could not write the spoken reply" in one_error_line(stderr)
    assert turns(cli_env) == 0


def test_undecodable_stdin_and_env_are_one_line(
    dashscope: FakeDashScope, cli_env: dict[str, str], tmp_path: Path
) -> None:
    result = subprocess.run([sys.executable, "-m", "omnicord", "ask", "-", "--text-only"],
                            env=cli_env, cwd=tmp_path, input=b"caf\xe9 \xff\xfe", timeout=60,
                            capture_output=True)
    assert result.returncode == 2
    assert "not UTF-8" in one_error_line(result.stderr.decode())
    (tmp_path / ".env").write_bytes(b"OMNICORD_VOICE=Ch\xe9rry\n\xff\xfe\n")
    result = subprocess.run([sys.executable, "-m", "omnicord", "voices"], env=cli_env,
                            cwd=tmp_path, timeout=60, capture_output=True)
    assert result.returncode == 2
    assert ".env is not UTF-8" in one_error_line(result.stderr.decode())


# --- the Discord side refuses ----------------------------------------------------------------

class _Unauthorized(http.server.BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        body = b'{"message": "401: Unauthorized", "code": 0}'
        self.send_response(401)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def discord_base(monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[[str], None]]:
    def point_at(url: str) -> None:
        monkeypatch.setattr(discord.http.Route, "BASE", url)

    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    interval = sys.getswitchinterval()
    yield point_at
    root.handlers[:] = handlers  # run_bot installs its log handler on the root
    root.setLevel(level)
    sys.setswitchinterval(interval)  # and tunes the interpreter it owns


@pytest.mark.parametrize("refusal", ["bad token", "no network"])
def test_run_with_a_refused_token_or_no_network_is_one_line(
    dashscope: FakeDashScope, cli_env: dict[str, str], tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], discord_base,
    refusal: str,
) -> None:
    for name, value in (cli_env | {"DISCORD_TOKEN": TOKEN}).items():
        monkeypatch.setenv(name, value)
    monkeypatch.chdir(tmp_path)
    server = None
    if refusal == "bad token":
        server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Unauthorized)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        discord_base(f"http://127.0.0.1:{server.server_address[1]}/api/v10")
    else:
        discord_base("http://127.0.0.1:9/api/v10")  # the discard port: nothing listens
    try:
        code = cli.main(["run"])
    finally:
        if server is not None:
            server.shutdown()
    stderr = capsys.readouterr().err
    line = one_error_line(stderr)
    assert TOKEN not in stderr
    assert sys.getswitchinterval() == pytest.approx(SWITCH_INTERVAL)  # the runner's own
    if refusal == "bad token":
        assert code == 2 and "DISCORD_TOKEN was refused" in line
    else:
        assert code == 1 and "Could not reach Discord at 127.0.0.1:9 (" in line
