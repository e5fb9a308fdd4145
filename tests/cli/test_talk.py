"""``omnicord talk`` run as a user would, against the local realtime stand-in, with audio made
by ffmpeg."""

from __future__ import annotations

import subprocess
import sys
import wave
from pathlib import Path

import pytest

from tests.conftest import run_cli
from tests.doubles.fake_realtime import FakeRealtime, fixtures
from tests.doubles.fake_realtime.fixtures import API_KEY
from tests.doubles.media import ffmpeg, voice_note

# The realtime stand-in's fixtures, for these tests.
fake_realtime_server = fixtures.fake_realtime_server
fake_realtime = fixtures.fake_realtime


@pytest.fixture
def talk_env(cli_env: dict[str, str], fake_realtime: FakeRealtime) -> dict[str, str]:
    assert cli_env["DASHSCOPE_API_KEY"] == API_KEY
    return cli_env | {"OMNICORD_REALTIME_URL": fake_realtime.url}


@pytest.fixture(scope="module")
def spoken(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Half a second of quiet, then 1.5 s of speech-like sound (OGG/Opus, 48 kHz)."""
    folder = tmp_path_factory.mktemp("talk")
    speech = voice_note(folder / "speech.ogg", 1.5)
    padded = folder / "question.ogg"
    ffmpeg("-f", "lavfi", "-i", "anullsrc=r=48000:cl=mono:d=0.5", "-i", str(speech),
           "-filter_complex", "[0][1]concat=n=2:v=0:a=1", "-c:a", "libopus", str(padded))
    return padded


def wav_of(path: Path) -> tuple[int, int, int, int]:
    with wave.open(str(path), "rb") as reader:
        return (reader.getframerate(), reader.getnchannels(), reader.getsampwidth(),
                reader.getnframes())


def one_error_line(stderr: str) -> str:
    errors = [line for line in stderr.splitlines() if line.startswith("omnicord: error:")]
    assert len(errors) == 1 and "Traceback" not in stderr, stderr
    return errors[0]


def test_talk_prints_the_answer_and_writes_its_speech(
    fake_realtime: FakeRealtime, talk_env: dict[str, str], spoken: Path, tmp_path: Path
) -> None:
    fake_realtime.answer_text = "Hello there, I heard you."
    fake_realtime.answer_seconds = 1.2
    result = run_cli(["talk", str(spoken), "--instructions", "Be brief.", "--voice", "ethan"],
                     talk_env, tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stdout == "Hello there, I heard you.\n"
    assert "heard: Hello, I spoke for 1.5 seconds." in result.stderr
    answer = spoken.with_name("question.answer.wav")
    assert wav_of(answer) == (24_000, 1, 2, round(1.2 * 24_000))
    assert f"answer spoken to {answer}" in result.stderr
    update = fake_realtime.received_of("session.update")[0]["session"]
    assert (update["voice"], update["instructions"]) == ("Ethan", "Be brief.")
    sizes = fake_realtime.appended_sizes()
    assert len(sizes) > 20 and max(sizes) <= 3200
    silence_ms = update["turn_detection"]["silence_duration_ms"]
    trailing = sum(sizes) / 32_000 - 2.0
    assert trailing >= silence_ms / 1000  # enough silence after the file for the VAD
    assert fake_realtime.received_types()[-1] == "session.finish"


def test_talk_with_turbo_writes_16_khz_where_told(
    fake_realtime: FakeRealtime, talk_env: dict[str, str], spoken: Path, tmp_path: Path
) -> None:
    fake_realtime.answer_seconds = 0.5
    out = tmp_path / "reply.wav"
    result = run_cli(["talk", str(spoken), "--model", "qwen-omni-turbo-realtime", "--out",
                      str(out)], talk_env | {"OMNICORD_TALK_VOICE": "Nofish"}, tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("You spoke for 1.5 seconds.")
    assert wav_of(out) == (16_000, 1, 2, 8_000)
    assert fake_realtime.received_of("session.update")[0]["session"]["voice"] == "Chelsie"
    assert [h["model"] for h in fake_realtime.handshakes] == ["qwen-omni-turbo-realtime"]


def test_an_unknown_voice_is_refused_before_connecting(
    fake_realtime: FakeRealtime, talk_env: dict[str, str], spoken: Path, tmp_path: Path
) -> None:
    result = run_cli(["talk", str(spoken), "--voice", "Serena"], talk_env, tmp_path)
    assert result.returncode == 2
    line = one_error_line(result.stderr)
    assert "qwen3-omni-flash-realtime has no voice 'Serena' (choose from Cherry, Ethan" in line
    bad_setting = run_cli(["talk", str(spoken)], talk_env | {"OMNICORD_TALK_VOICE": "Bob"},
                          tmp_path)
    assert bad_setting.returncode == 2
    assert "OMNICORD_TALK_VOICE" in one_error_line(bad_setting.stderr)
    assert fake_realtime.handshakes == []


def test_a_refused_key_is_one_line_without_the_key(
    fake_realtime: FakeRealtime, talk_env: dict[str, str], spoken: Path, tmp_path: Path
) -> None:
    fake_realtime.refuse_key = True
    result = run_cli(["talk", str(spoken)], talk_env, tmp_path)
    assert result.returncode == 1
    line = one_error_line(result.stderr)
    assert "refused the API key" in line
    assert API_KEY not in result.stderr + result.stdout


@pytest.mark.parametrize(("fault", "said"), [
    ({"drop_after_audio_deltas": 2}, "dropped"),
    ({"error_after_events": 8, "error_type": "invalid_request_error",
      "error_message": f"bad input for {API_KEY}"}, "rejected a request: bad input for"),
])
def test_a_failure_mid_answer_is_one_line(
    fake_realtime: FakeRealtime, talk_env: dict[str, str], spoken: Path, tmp_path: Path,
    fault: dict[str, object], said: str
) -> None:
    for name, value in fault.items():
        setattr(fake_realtime, name, value)
    result = run_cli(["talk", str(spoken)], talk_env, tmp_path)
    assert result.returncode == 1
    assert said in one_error_line(result.stderr)
    assert API_KEY not in result.stderr
    assert not spoken.with_name("question.answer.wav").exists() or result.returncode


def test_no_answer_in_time_is_one_line(
    fake_realtime: FakeRealtime, talk_env: dict[str, str], spoken: Path, tmp_path: Path
) -> None:
    fake_realtime.first_audio_delay = 60.0
    result = run_cli(["talk", str(spoken)], talk_env | {"OMNICORD_REQUEST_TIMEOUT": "3"},
                     tmp_path)
    assert result.returncode == 1
    assert "did not answer within 3 s" in one_error_line(result.stderr)


def test_a_file_without_sound_is_refused(
    fake_realtime: FakeRealtime, talk_env: dict[str, str], tmp_path: Path
) -> None:
    text = tmp_path / "notes.txt"
    text.write_text("not audio")
    result = run_cli(["talk", str(text)], talk_env, tmp_path)
    assert result.returncode == 2
    one_error_line(result.stderr)
    missing = run_cli(["talk", str(tmp_path / "nothing.ogg")], talk_env, tmp_path)
    assert missing.returncode == 2
    assert "no such file" in one_error_line(missing.stderr)
    assert fake_realtime.handshakes == []


PROBE = """import sys, runpy
sys.argv = ['omnicord', *{argv!r}]
try:
    runpy.run_module('omnicord', run_name='__main__')
except SystemExit as done:
    code = done.code
print(code, sorted(name for name in ('aiohttp', 'omnicord.realtime.client',
                                     'omnicord.media.ffmpeg', 'asyncio') if name in sys.modules))
"""


@pytest.mark.parametrize("argv", [["--help"], ["talk", "--help"]])
def test_help_loads_no_realtime_client(argv: list[str], cli_env: dict[str, str],
                                       tmp_path: Path) -> None:
    result = subprocess.run([sys.executable, "-c", PROBE.format(argv=argv)], env=cli_env,
                            cwd=tmp_path, capture_output=True, text=True, timeout=60)
    assert result.stdout.splitlines()[-1] == "0 []", result.stdout + result.stderr
