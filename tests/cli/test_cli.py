"""The ``omnicord`` command line, run in real subprocesses against the offline server."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import REPO, run_cli
from tests.doubles.fake_dashscope import FakeDashScope, Fault
from tests.doubles.media import image, probe, tone, voice_note


def test_ask_streams_text_and_writes_a_voice_reply(
    dashscope: FakeDashScope, cli_env: dict[str, str], tmp_path: Path
) -> None:
    result = run_cli(["ask", "what is the weather like"], cli_env, tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stdout == "Echo: what is the weather like\n"
    out = tmp_path / "omnicord-reply.ogg"
    assert f"saved to {out.name}" in result.stderr
    info = probe(out)
    assert (info.audio_codec, info.sample_rate) == ("opus", 48_000)
    expected = FakeDashScope.expected_audio_seconds("Echo: what is the weather like")
    assert info.seconds == pytest.approx(expected, abs=0.05)
    sent = dashscope.accepted[0]
    assert sent["audio"] == {"voice": "Cherry", "format": "wav"}
    assert sent["messages"][0]["role"] == "system"


def test_a_reply_cut_at_the_length_limit_is_noted_on_stderr(
    dashscope: FakeDashScope, cli_env: dict[str, str], tmp_path: Path
) -> None:
    dashscope.reply_text = "word " * 2000  # 10,000 characters: over turbo's 2,048 tokens
    result = run_cli(["ask", "everything", "--text-only", "--model", "qwen-omni-turbo"],
                     cli_env, tmp_path)
    assert result.returncode == 0, result.stderr
    assert len(result.stdout) < 7000
    assert "cut short: it reached the model's length limit" in result.stderr
    dashscope.reply_text = "short"
    result = run_cli(["ask", "briefly", "--text-only"], cli_env, tmp_path)
    assert "cut short" not in result.stderr


@pytest.mark.parametrize("suffix", [".wav", ".mp3"])
def test_out_format_follows_extension(
    dashscope: FakeDashScope, cli_env: dict[str, str], tmp_path: Path, suffix: str
) -> None:
    out = tmp_path / f"answer{suffix}"
    result = run_cli(["ask", "hi", "--out", str(out), "--voice", "ethan"], cli_env, tmp_path)
    assert result.returncode == 0, result.stderr
    assert probe(out).audio_codec == ("pcm_s16le" if suffix == ".wav" else "mp3")
    assert dashscope.accepted[0]["audio"]["voice"] == "Ethan"


def test_text_only_and_think_request_no_speech(
    dashscope: FakeDashScope, cli_env: dict[str, str], tmp_path: Path
) -> None:
    assert run_cli(["ask", "hi", "--text-only"], cli_env, tmp_path).returncode == 0
    result = run_cli(["ask", "why is the sky blue", "--think"], cli_env, tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("Echo: why is the sky blue")
    assert [r["modalities"] for r in dashscope.accepted] == [["text"], ["text"]]
    assert dashscope.accepted[1]["enable_thinking"] is True
    assert not (tmp_path / "omnicord-reply.ogg").exists()


def test_attachments_as_the_api_takes_them(
    dashscope: FakeDashScope, cli_env: dict[str, str], tmp_path: Path
) -> None:
    picture = image(tmp_path / "cat.png", 64, 48)
    clip = tone(tmp_path / "clip.mp3", 2.0)
    result = run_cli(["ask", "what is this", "--attach", str(picture), "--attach", str(clip),
                      "--text-only"], cli_env, tmp_path)
    assert result.returncode == 0, result.stderr
    users = [m for m in dashscope.accepted[0]["messages"] if m["role"] == "user"]
    kinds = [[p["type"] for p in m["content"]] for m in users]
    assert kinds == [["image_url", "text"], ["input_audio"]]
    assert users[1]["content"][0]["input_audio"]["format"] == "wav"


def test_session_continues_across_processes(
    dashscope: FakeDashScope, cli_env: dict[str, str], tmp_path: Path
) -> None:
    first = run_cli(["ask", "my name is Ada", "--session", "demo", "--text-only"],
                    cli_env, tmp_path)
    assert first.returncode == 0, first.stderr
    second = run_cli(["ask", "what is my name", "--session", "demo", "--text-only"],
                     cli_env, tmp_path)
    assert second.returncode == 0, second.stderr
    messages = dashscope.accepted[1]["messages"]
    assert [m["role"] for m in messages] == ["system", "user", "assistant", "user"]
    assert "my name is Ada" in messages[1]["content"][0]["text"]
    assert messages[2]["content"] == "Echo: my name is Ada"
    other = run_cli(["ask", "hello", "--session", "other", "--text-only"], cli_env, tmp_path)
    assert other.returncode == 0
    assert len(dashscope.accepted[2]["messages"]) == 2


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["ask", "hi", "--model", "gpt-4o"], "unknown chat model 'gpt-4o'"),
        (["ask", "hi", "--voice", "Serena"], "has no voice 'Serena'"),
        (["ask", "hi", "--think", "--voice", "Cherry"], "--think turns speech off"),
        (["ask", "hi", "--model", "qwen-omni-turbo", "--think"], "no thinking mode"),
        (["ask", "hi", "--out", "reply.flac"], ".ogg, .wav or .mp3"),
        (["ask"], "nothing to ask"),
        (["ask", "hi", "--attach", "missing.png"], "no such file"),
        (["ask", "hi", "--attach", "blob.xyz"], "blob.xyz: this file type is not supported"),
        (["ask", "hi", "--attach", "empty.png"], "the file is empty"),
        (["ask", "hi", "--frobnicate"], "unrecognized arguments"),
        (["caption", "voice.ogg"], "voice.ogg: the file is damaged"),
        (["caption", "notes.xyz"], "only audio and video can be captioned"),
        (["prepare", "blob.xyz"], "not supported"),
        (["voices", "--model", "qwen-omni-max"], "unknown chat model"),
    ],
)
def test_bad_usage_exits_2_with_one_line_and_sends_nothing(
    dashscope: FakeDashScope, cli_env: dict[str, str], tmp_path: Path,
    args: list[str], message: str,
) -> None:
    (tmp_path / "notes.xyz").write_text("hello")
    (tmp_path / "blob.xyz").write_bytes(b"\x00\x01binary" * 10)
    (tmp_path / "empty.png").write_bytes(b"")
    (tmp_path / "voice.ogg").write_bytes(b"OggS")
    result = run_cli(args, cli_env, tmp_path)
    assert result.returncode == 2
    assert message.lower() in result.stderr.lower()
    assert "Traceback" not in result.stderr
    assert dashscope.requests == []


def test_turbo_with_speech_moves_instructions_into_the_user_message(
    dashscope: FakeDashScope, cli_env: dict[str, str], tmp_path: Path
) -> None:
    result = run_cli(["ask", "hi", "--model", "qwen-omni-turbo", "--voice", "Serena"],
                     cli_env, tmp_path)
    assert result.returncode == 0, result.stderr
    messages = dashscope.accepted[0]["messages"]
    assert [m["role"] for m in messages] == ["user"]
    assert messages[0]["content"][0]["text"].startswith("(Instructions:")


def test_missing_setting_is_one_line(cli_env: dict[str, str], tmp_path: Path) -> None:
    env = {**cli_env, "DASHSCOPE_API_KEY": ""}
    result = run_cli(["ask", "hi"], env, tmp_path)
    assert result.returncode == 2
    assert result.stderr.strip() == (
        "omnicord: error: DASHSCOPE_API_KEY is not set: put your Model Studio API key in the "
        "environment or in .env"
    )
    bad = run_cli(["voices"], {**cli_env, "OMNICORD_VOICE": "Nobody"}, tmp_path)
    assert bad.returncode == 2 and bad.stderr.count("\n") == 1
    assert "OMNICORD_VOICE" in bad.stderr
    no_token = run_cli(["run"], cli_env, tmp_path)
    assert no_token.returncode == 2 and "DISCORD_TOKEN is not set" in no_token.stderr


@pytest.mark.parametrize(
    ("fault", "message"),
    [
        (Fault(status=401), "refused the API key"),
        (Fault(status=404), "does not offer"),
        (Fault(status=429), "rate limiting"),
        (Fault(status=500), "HTTP 500"),
        (Fault(status=400, code="InvalidParameter", message="Bad thing."), "Bad thing."),
        (Fault(cut_after_chunks=4), "cut off"),
    ],
)
def test_upstream_failures_exit_1_with_a_clear_line(
    dashscope: FakeDashScope, cli_env: dict[str, str], tmp_path: Path,
    fault: Fault, message: str,
) -> None:
    dashscope.add_fault(fault)
    result = run_cli(["ask", "hello", "--session", "s"], cli_env, tmp_path)
    assert result.returncode == 1
    error_lines = [line for line in result.stderr.splitlines() if "error" in line]
    assert len(error_lines) == 1 and message in error_lines[0]
    assert "Traceback" not in result.stderr
    assert dashscope.api_key not in result.stderr + result.stdout
    assert not (tmp_path / "omnicord-reply.ogg").exists()
    follow_up = run_cli(["ask", "again", "--session", "s", "--text-only"], cli_env, tmp_path)
    assert follow_up.returncode == 0
    assert len(dashscope.accepted[-1]["messages"]) == 2  # the failed turn was not stored


def test_caption_streams_and_non_streams(
    dashscope: FakeDashScope, cli_env: dict[str, str], tmp_path: Path
) -> None:
    clip = tone(tmp_path / "clip.wav", 3.0)
    result = run_cli(["caption", str(clip)], cli_env, tmp_path)
    assert result.returncode == 0, result.stderr
    assert "steady tone lasting about 3.0 seconds" in result.stdout
    result = run_cli(["caption", str(clip), "--no-stream"], cli_env, tmp_path)
    assert result.returncode == 0, result.stderr
    first, second = dashscope.accepted
    assert first["stream"] is True and "stream" not in second
    for body in (first, second):
        assert body["model"] == "qwen3-omni-30b-a3b-captioner"
        assert len(body["messages"]) == 1
        assert [p["type"] for p in body["messages"][0]["content"]] == ["input_audio"]


def test_voices_lists_a_models_voices(cli_env: dict[str, str], tmp_path: Path) -> None:
    result = run_cli(["voices", "--model", "qwen-omni-turbo"], cli_env, tmp_path)
    assert result.stdout.split() == ["Cherry", "Serena", "Ethan", "Chelsie"]
    flash = run_cli(["voices"], cli_env, tmp_path).stdout.splitlines()
    assert len(flash) == 17 and "Rocky\tCantonese" in flash


def test_ask_help_documents_every_option(cli_env: dict[str, str], tmp_path: Path) -> None:
    text = run_cli(["ask", "--help"], cli_env, tmp_path).stdout
    for option in ("TEXT", "--attach", "--model", "--voice", "--think", "--text-only",
                   "--out", "--session"):
        assert option in text


def test_console_script_matches_python_m(cli_env: dict[str, str], tmp_path: Path) -> None:
    script = shutil.which("omnicord", path=str(Path(sys.executable).parent))
    if script is None:
        pytest.fail("the omnicord console script is not installed next to the interpreter")
    via_script = subprocess.run([script, "voices"], env=cli_env, cwd=tmp_path,
                                capture_output=True, text=True, timeout=60)
    via_module = run_cli(["voices"], cli_env, tmp_path)
    assert via_script.returncode == via_module.returncode == 0
    assert via_script.stdout == via_module.stdout
    assert REPO.is_dir()


def test_voice_note_attachment_and_caption(
    dashscope: FakeDashScope, cli_env: dict[str, str], tmp_path: Path
) -> None:
    note = voice_note(tmp_path / "voice-message.ogg", 3)
    asked = run_cli(["ask", "what did I say", "--attach", str(note), "--text-only"],
                    cli_env, tmp_path)
    assert asked.returncode == 0, asked.stderr
    assert "voice-message.ogg: converted from OGG/Opus" in asked.stderr
    assert "[saw 1 audio clip (3.0 s)]" in asked.stdout
    captioned = run_cli(["caption", str(note)], cli_env, tmp_path)
    assert captioned.returncode == 0, captioned.stderr
    assert dashscope.accepted[-1]["messages"][0]["content"][0]["input_audio"]["format"] == "wav"


def test_prepare_prints_what_would_be_sent_and_sends_nothing(
    dashscope: FakeDashScope, cli_env: dict[str, str], tmp_path: Path
) -> None:
    note = voice_note(tmp_path / "voice-message.ogg", 3)
    result = run_cli(["prepare", str(note)], cli_env, tmp_path)
    assert result.returncode == 0, result.stderr
    assert "audio for qwen3-omni-flash" in result.stdout
    assert "part 1: audio as wav, 3.0 s" in result.stdout
    assert re.search(r"~7[56] tokens", result.stdout)  # 25 per second, codec padding aside
    assert result.stderr == ""
    assert "note: converted from OGG/Opus" in result.stdout
    turbo = run_cli(["prepare", str(note), "--model", "qwen-omni-turbo", "--for", "caption"],
                    cli_env, tmp_path)
    assert "for qwen3-omni-30b-a3b-captioner" in turbo.stdout
    assert dashscope.requests == []


def test_history_and_reset(
    dashscope: FakeDashScope, cli_env: dict[str, str], tmp_path: Path
) -> None:
    picture = image(tmp_path / "cat.png", 120, 80)
    assert run_cli(["ask", "what is this", "--attach", str(picture), "--session", "pets",
                    "--text-only"], cli_env, tmp_path).returncode == 0
    follow = run_cli(["ask", "and its colour?", "--session", "pets", "--text-only"],
                     cli_env, tmp_path)
    assert follow.returncode == 0, follow.stderr
    resent = dashscope.accepted[-1]["messages"][1]["content"]
    assert resent[0]["type"] == "image_url"  # the picture came back from the media cache
    markdown = run_cli(["history", "pets"], cli_env, tmp_path).stdout
    assert markdown.startswith("# Conversation pets")
    assert "**You**" in markdown and "[image: cat.png" in markdown
    assert "and its colour?" in markdown
    exported = json.loads(run_cli(["history", "pets", "--format", "json"], cli_env,
                                  tmp_path).stdout)
    assert [t["text"] for t in exported["turns"]] == ["what is this", "and its colour?"]
    assert exported["turns"][0]["media"][0]["tokens"] > 0
    cleared = run_cli(["reset", "pets"], cli_env, tmp_path)
    assert cleared.returncode == 0 and "cleared 2 turns" in cleared.stderr
    assert json.loads(run_cli(["history", "pets", "--format", "json"], cli_env,
                              tmp_path).stdout)["turns"] == []


def test_session_persona_is_kept(
    dashscope: FakeDashScope, cli_env: dict[str, str], tmp_path: Path
) -> None:
    first = run_cli(["ask", "hi", "--session", "pirate", "--persona", "Talk like a pirate.",
                     "--text-only"], cli_env, tmp_path)
    assert first.returncode == 0, first.stderr
    run_cli(["ask", "and again", "--session", "pirate", "--text-only"], cli_env, tmp_path)
    assert [r["messages"][0]["content"] for r in dashscope.accepted] == [
        "Talk like a pirate.", "Talk like a pirate."]
    refused = run_cli(["ask", "hi", "--persona", "x"], cli_env, tmp_path)
    assert refused.returncode == 2 and "--persona needs --session" in refused.stderr


@pytest.mark.parametrize("argv", [["--help"], ["voices"], ["history", "s"], ["reset", "s"],
                                  ["prepare", "note.txt"], ["forget", "1", "--yes"],
                                  ["db", "prune", "--days", "1"], ["usage", "--days", "3"]])
def test_commands_that_send_nothing_never_load_the_model_sdk(
    argv: list[str], cli_env: dict[str, str], tmp_path: Path
) -> None:
    (tmp_path / "note.txt").write_text("hello")
    probe_sdk = ("import sys, runpy\n"
                 f"sys.argv = ['omnicord', *{argv!r}]\n"
                 "try:\n    runpy.run_module('omnicord', run_name='__main__')\n"
                 "except SystemExit as done:\n    code = done.code\n"
                 "print('openai' in sys.modules, 'discord' in sys.modules, code)\n")
    result = subprocess.run([sys.executable, "-c", probe_sdk], env=cli_env, cwd=tmp_path,
                            capture_output=True, text=True, timeout=60)
    assert result.stdout.splitlines()[-1] == "False False 0", result.stderr
