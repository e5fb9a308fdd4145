"""``omnicord transcribe``, run in real subprocesses against the offline server: output,
translation, long recordings in parts, silence, and the exit codes ``caption`` has."""

from __future__ import annotations

import re
import sqlite3
from pathlib import Path

import pytest

from tests.conftest import run_cli
from tests.doubles.fake_dashscope import FakeDashScope, Fault
from tests.doubles.media import ffmpeg, tone, voice_note


def test_transcribe_prints_the_words_streamed_or_not(
    dashscope: FakeDashScope, cli_env: dict[str, str], tmp_path: Path
) -> None:
    note = voice_note(tmp_path / "voice-message.ogg", 3)
    streamed = run_cli(["transcribe", str(note)], cli_env, tmp_path)
    assert streamed.returncode == 0, streamed.stderr
    assert streamed.stdout == "Hello, this is a recording of 3.0 seconds.\n"
    assert "voice-message.ogg: converted from OGG/Opus" in streamed.stderr
    whole = run_cli(["transcribe", str(note), "--no-stream"], cli_env, tmp_path)
    assert whole.returncode == 0, whole.stderr
    assert whole.stdout == streamed.stdout
    for request in dashscope.accepted:
        assert request["model"] == "qwen3-omni-flash" and request["stream"] is True
        assert request["modalities"] == ["text"] and "audio" not in request
        (message,) = request["messages"]
        assert [p["type"] for p in message["content"]] == ["input_audio", "text"]
        assert message["content"][0]["input_audio"]["format"] == "wav"


def test_transcribe_translates_a_long_recording_part_by_part(
    dashscope: FakeDashScope, cli_env: dict[str, str], tmp_path: Path
) -> None:
    talk = tone(tmp_path / "talk.flac", 200.0, codec=["-c:a", "flac"])
    args = ["transcribe", str(talk), "--model", "qwen-omni-turbo", "--translate", "es"]
    streamed = run_cli(args, cli_env, tmp_path)
    assert streamed.returncode == 0, streamed.stderr
    assert "talk.flac: transcribed in 2 parts of about 1 min 40 s" in streamed.stderr
    words = r"Hello, this is a recording of (?:99\.\d|100\.\d) seconds\."
    assert re.fullmatch(
        rf"\[0:00–1:40\] {words}\n\n\[1:40–3:20\] {words}\n\n"
        rf"Translation \(Spanish\):\n\[0:00–1:40\] \[Spanish\] {words}\n\n"
        rf"\[1:40–3:20\] \[Spanish\] {words}\n", streamed.stdout), streamed.stdout
    whole = run_cli([*args, "--no-stream"], cli_env, tmp_path)
    assert whole.returncode == 0 and whole.stdout == streamed.stdout
    kinds = [[p["type"] for p in r["messages"][-1]["content"]] for r in dashscope.accepted]
    assert kinds == 2 * [["input_audio", "text"], ["input_audio", "text"], ["text"], ["text"]]


def test_transcribe_says_so_when_nobody_speaks(
    dashscope: FakeDashScope, cli_env: dict[str, str], tmp_path: Path
) -> None:
    quiet = tmp_path / "quiet.wav"
    ffmpeg("-f", "lavfi", "-i", "anullsrc=r=16000:cl=mono:d=3", str(quiet))
    result = run_cli(["transcribe", str(quiet), "--translate", "French"], cli_env, tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stdout == "No speech in this recording.\n"
    assert dashscope.requests == []  # silence costs no request


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["transcribe", "missing.ogg"], "missing.ogg: no such file"),
        (["transcribe", "voice.ogg"], "voice.ogg: the file is damaged"),
        (["transcribe", "notes.xyz"], "only audio and video can be transcribed"),
        (["transcribe", "cat.png"], "only audio and video can be transcribed"),
        (["transcribe", "clip.wav", "--translate", "Fr3nch"], "is not a language name"),
        (["transcribe", "clip.wav", "--model", "gpt-4o"], "unknown chat model 'gpt-4o'"),
        (["transcribe", "clip.wav", "--member", "bo"], "--member must be a Discord id"),
        (["transcribe", "clip.wav", "--guild", "7"], "--guild needs --member"),
        (["transcribe"], "the following arguments are required: FILE"),
    ],
)
def test_bad_input_exits_2_with_one_line_and_sends_nothing(
    dashscope: FakeDashScope, cli_env: dict[str, str], tmp_path: Path,
    args: list[str], message: str,
) -> None:
    (tmp_path / "notes.xyz").write_text("hello")
    (tmp_path / "voice.ogg").write_bytes(b"OggS")
    (tmp_path / "cat.png").write_bytes(b"\x89PNG\r\n\x1a\n" + b"\x00" * 64)
    tone(tmp_path / "clip.wav", 1.0)
    result = run_cli(args, cli_env, tmp_path)
    assert result.returncode == 2
    assert message.lower() in result.stderr.lower()
    assert "Traceback" not in result.stderr
    assert dashscope.requests == []


def test_a_missing_key_exits_2(cli_env: dict[str, str], tmp_path: Path) -> None:
    clip = tone(tmp_path / "clip.wav", 1.0)
    result = run_cli(["transcribe", str(clip)], {**cli_env, "DASHSCOPE_API_KEY": ""}, tmp_path)
    assert result.returncode == 2 and "DASHSCOPE_API_KEY is not set" in result.stderr


@pytest.mark.parametrize(
    ("fault", "message"),
    [
        (Fault(status=401), "refused the API key"),
        (Fault(status=429), "rate limiting"),
        (Fault(status=500), "HTTP 500"),
        (Fault(cut_after_chunks=2), "cut off"),
    ],
)
def test_upstream_failures_exit_1_with_a_clear_line(
    dashscope: FakeDashScope, cli_env: dict[str, str], tmp_path: Path,
    fault: Fault, message: str,
) -> None:
    clip = tone(tmp_path / "clip.wav", 1.0)
    dashscope.add_fault(fault)
    result = run_cli(["transcribe", str(clip)], cli_env, tmp_path)
    assert result.returncode == 1
    error_lines = [line for line in result.stderr.splitlines() if "error" in line]
    assert len(error_lines) == 1 and message in error_lines[0]
    assert "Traceback" not in result.stderr
    assert dashscope.api_key not in result.stderr + result.stdout


def test_a_members_daily_cap_is_checked_before_every_part(
    dashscope: FakeDashScope, cli_env: dict[str, str], tmp_path: Path
) -> None:
    talk = tone(tmp_path / "talk.flac", 720.0, codec=["-c:a", "flac"])  # 4 parts on turbo
    env = {**cli_env, "OMNICORD_DAILY_TOKEN_CAP": "6000"}
    args = ["transcribe", str(talk), "--model", "qwen-omni-turbo", "--member", "42"]
    result = run_cli(args, env, tmp_path)
    assert result.returncode == 0, result.stderr
    words = r"Hello, this is a recording of 1[78]\d\.\d seconds\."
    assert re.fullmatch(
        rf"\[0:00–3:00\] {words}\n\n\[3:00–6:00\] {words}\n\nStopped after 2 of 4 parts: "
        r"you have used your 6,000 tokens for today; Omnicord will answer you again tomorrow "
        r"\(UTC\)\.\n", result.stdout), result.stdout
    assert len(dashscope.requests) == 2
    with sqlite3.connect(tmp_path / "omnicord.db") as db:
        rows = db.execute("SELECT user_id, model FROM usage").fetchall()
    assert rows == 2 * [("42", "qwen-omni-turbo")]  # each part's usage, as it completed
    again = run_cli(args, env, tmp_path)  # at the cap: refused before anything is sent
    assert again.returncode == 2 and again.stdout == ""
    assert "you have used your 6,000 tokens for today" in again.stderr
    assert len(dashscope.requests) == 2
    other = run_cli([*args[:-1], "43", "--no-stream"], env, tmp_path)  # another member
    assert other.returncode == 0 and other.stdout == result.stdout
