"""``omnicord doctor``: in-process against the offline DashScope and the fake Discord REST API,
and once as a real subprocess."""

from __future__ import annotations

import os
import sqlite3
import stat
from collections.abc import Iterator
from pathlib import Path

import discord
import imageio_ffmpeg
import pytest
from omnicord.checks import FAIL
from omnicord.cli import main
from omnicord.cli.commands.doctor.local import ffmpeg_verdict
from omnicord.cli.commands.doctor.service import BEIJING_BASE_URL, service_failure
from omnicord.cogs.runner import REQUIRED_PERMISSIONS
from omnicord.errors import AuthenticationFailed
from omnicord.media.codecs import Capabilities, codec_names, inspect_ffmpeg, version_of
from omnicord.settings import DEFAULT_BASE_URL, load_settings

from tests.conftest import REPO, run_cli
from tests.doubles.fake_dashscope import FakeDashScope, Fault
from tests.doubles.fake_discord import FakeDiscord

TOKEN = "MTIzNDU2.fake-discord-token.abcdef"
ALL_NEEDED = REQUIRED_PERMISSIONS.value


@pytest.fixture(scope="module")
def discord_server() -> Iterator[FakeDiscord]:
    with FakeDiscord() as fake:
        yield fake


@pytest.fixture
def fake_discord(discord_server: FakeDiscord, monkeypatch: pytest.MonkeyPatch
                 ) -> Iterator[FakeDiscord]:
    """The fake Discord, accepting only ``TOKEN``, with discord.py pointed at it."""
    discord_server.reset()
    discord_server.token = TOKEN
    monkeypatch.setattr(discord.http.Route, "BASE", discord_server.api_base)
    yield discord_server
    discord_server.reset()


@pytest.fixture
def env(dashscope: FakeDashScope, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Settings for a working set-up (no .env: the working folder is empty); the DB path."""
    for name in list(os.environ):
        if name.startswith(("DASHSCOPE_", "OMNICORD_", "DISCORD_")):
            monkeypatch.delenv(name)
    database = tmp_path / "omnicord.db"
    for name, value in {"DASHSCOPE_API_KEY": dashscope.api_key,
                        "DASHSCOPE_BASE_URL": dashscope.base_url,
                        "DISCORD_TOKEN": TOKEN, "OMNICORD_DB": str(database),
                        "OMNICORD_MAX_RETRIES": "0", "OMNICORD_REQUEST_TIMEOUT": "20"}.items():
        monkeypatch.setenv(name, value)
    monkeypatch.chdir(tmp_path)
    return database


def doctor(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, dict[str, str], str]:
    """Run ``omnicord doctor ARGS`` in-process: status, lines by subject, all output."""
    status = main(["doctor", *args])
    out, err = capsys.readouterr()
    lines = {}
    for line in out.splitlines():
        subject = line[6:].split(":", 1)[0]
        lines[subject] = line
    return status, lines, out + err


def migrated(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["db", "migrate"]) == 0
    capsys.readouterr()


def test_everything_passes_against_working_services(
    env: Path, dashscope: FakeDashScope, fake_discord: FakeDiscord,
    capsys: pytest.CaptureFixture[str],
) -> None:
    migrated(capsys)
    fake_discord.add_bot_guild("Admins", discord.Permissions(administrator=True).value)
    fake_discord.add_bot_guild("Exact", ALL_NEEDED)
    status, lines, out = doctor(capsys)
    assert status == 0, out
    assert "FAIL" not in out
    assert lines["settings"].startswith("ok    settings: no .env in")
    assert lines["ffmpeg"].startswith("ok    ffmpeg: ffmpeg ")
    assert lines["database"].startswith("ok    database: sqlite ")
    assert "up to date" in lines["database"]
    assert lines["model service"].startswith("ok    model service: qwen3-omni-flash answered")
    assert lines["Discord token"].startswith("ok    Discord token: valid: the bot is Omnicord")
    assert lines["Message Content intent"].startswith("ok    ")
    assert lines["servers"] == ("ok    servers: 2 of 2 servers give the bot every permission it "
                                "needs (channel overrides are not checked)")
    [request] = dashscope.accepted  # one tiny streamed text-only request
    assert request["stream"] is True and request["max_tokens"] == 1
    assert request["modalities"] == ["text"]
    assert fake_discord.find("GET", "/users/@me/guilds")


def test_a_refused_key_names_the_key_and_its_region_never_its_value(
    env: Path, fake_discord: FakeDiscord, capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    wrong = "sk-wrong-region-key-0123456789"
    monkeypatch.setenv("DASHSCOPE_API_KEY", wrong)
    status, lines, out = doctor(capsys)
    assert status == 1
    line = lines["model service"]
    assert line.startswith("FAIL  model service: DASHSCOPE_API_KEY was refused (HTTP 401)")
    assert "region" in line
    assert wrong not in out and TOKEN not in out


def test_a_refused_key_at_a_region_names_the_other_region_s_base_url(
    env: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("DASHSCOPE_BASE_URL", DEFAULT_BASE_URL)
    check = service_failure(AuthenticationFailed("refused", status=401), load_settings())
    assert check.status == FAIL
    assert "international (Singapore) region" in check.detail
    assert f"DASHSCOPE_BASE_URL={BEIJING_BASE_URL}" in check.fix


def test_unknown_model_and_unreachable_service_are_named(
    env: Path, dashscope: FakeDashScope, fake_discord: FakeDiscord,
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch,
) -> None:
    dashscope.add_fault(Fault(status=404))
    _, lines, _ = doctor(capsys)
    assert "does not offer qwen3-omni-flash (HTTP 404)" in lines["model service"]
    assert "DASHSCOPE_BASE_URL" in lines["model service"]
    monkeypatch.setenv("DASHSCOPE_BASE_URL", "http://127.0.0.1:9/compatible-mode/v1")
    status, lines, _ = doctor(capsys)
    assert status == 1
    assert lines["model service"].startswith(
        "FAIL  model service: could not reach http://127.0.0.1:9/compatible-mode/v1")


def test_message_content_intent_off_fails_unless_it_is_not_used(
    env: Path, fake_discord: FakeDiscord, capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    migrated(capsys)
    fake_discord.add_bot_guild("Home", ALL_NEEDED)
    fake_discord.application_flags = 0
    status, lines, _ = doctor(capsys)
    assert status == 1
    assert lines["Message Content intent"].startswith(
        "FAIL  Message Content intent: off for this application")
    assert "Privileged Gateway Intents" in lines["Message Content intent"]
    monkeypatch.setenv("OMNICORD_MESSAGE_CONTENT", "false")
    status, lines, out = doctor(capsys)
    assert status == 0, out
    assert lines["Message Content intent"] == (
        "ok    Message Content intent: not needed (OMNICORD_MESSAGE_CONTENT=false)")


def test_missing_permissions_are_named_per_server(
    env: Path, fake_discord: FakeDiscord, capsys: pytest.CaptureFixture[str],
) -> None:
    lacking = discord.Permissions(ALL_NEEDED)
    lacking.send_voice_messages = lacking.attach_files = False
    foo = fake_discord.add_bot_guild("Foo", lacking.value)
    fake_discord.add_bot_guild("Fine", ALL_NEEDED)
    status, lines, _ = doctor(capsys)
    assert status == 1
    line = lines[f'server "Foo" ({foo})']
    assert line.startswith(f'FAIL  server "Foo" ({foo}): missing ')
    missing = line.split(": missing ", 1)[1].split(" — ")[0].split(", ")
    assert sorted(missing) == ["Attach Files", "Send Voice Messages"]
    assert line.endswith("— give the Omnicord role these permissions")
    assert lines["servers"].startswith("ok    servers: 1 of 2 servers")


def test_a_bot_in_no_server_is_told_how_to_invite_it(
    env: Path, fake_discord: FakeDiscord, capsys: pytest.CaptureFixture[str],
) -> None:
    migrated(capsys)
    status, lines, _ = doctor(capsys)
    assert status == 0
    assert lines["servers"].startswith("note  servers: the bot is in no server yet — invite it "
                                       "with https://discord.com/oauth2/authorize?client_id=")


def test_a_refused_or_missing_discord_token(
    env: Path, fake_discord: FakeDiscord, capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    wrong = "MTIzNDU2.wrong-token.zzzzzz"
    monkeypatch.setenv("DISCORD_TOKEN", wrong)
    status, lines, out = doctor(capsys)
    assert status == 1
    assert lines["Discord token"].startswith(
        "FAIL  Discord token: DISCORD_TOKEN was refused by Discord (HTTP 401) — copy the bot "
        "token again")
    assert wrong not in out
    assert [r.status for r in fake_discord.find("GET", "/users/@me")] == [401]
    monkeypatch.delenv("DISCORD_TOKEN")
    status, lines, _ = doctor(capsys)
    assert status == 1
    assert lines["Discord"].startswith(
        "FAIL  Discord: DISCORD_TOKEN is not set: needed for `omnicord run`")


def test_a_bad_setting_is_one_line_naming_it(
    env: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("OMNICORD_REPLY_MODE", "loud")
    status, lines, out = doctor(capsys, "--offline")
    assert status == 1
    assert lines["settings"].startswith("FAIL  settings: OMNICORD_REPLY_MODE: must be ")
    assert lines["database"] == "skip  database: not checked: the settings did not load"
    assert "Traceback" not in out


def test_the_dotenv_file_read_is_named(
    env: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("OMNICORD_DB")
    (env.parent / ".env").write_text(f"OMNICORD_DB={env.parent / 'from-dotenv.db'}\n")
    _, lines, _ = doctor(capsys, "--offline")
    assert lines["settings"] == f"ok    settings: read {env.parent / '.env'} and the environment"
    assert "from-dotenv.db" in lines["database"]


def test_database_missing_unmigrated_or_damaged(
    env: Path, capsys: pytest.CaptureFixture[str],
) -> None:
    status, lines, _ = doctor(capsys, "--offline")
    assert status == 0
    assert lines["database"].startswith(f"note  database: no database at {env} yet — the bot "
                                        "creates and migrates it at start-up")
    assert "omnicord db migrate" in lines["database"]
    assert not env.exists()  # the doctor created nothing
    migrated(capsys)
    with sqlite3.connect(env) as db:
        version, name = db.execute("SELECT version, name FROM schema_migrations"
                                   " ORDER BY version DESC LIMIT 1").fetchone()
        db.execute("DELETE FROM schema_migrations WHERE version = ?", (version,))
    status, lines, _ = doctor(capsys, "--offline")
    assert status == 0
    assert lines["database"].startswith(
        f"note  database: sqlite {env}, schema version {version - 1}, pending migrations {name}")
    assert "run `omnicord db migrate`" in lines["database"]
    with sqlite3.connect(env) as db:  # nothing was migrated
        assert db.execute("SELECT MAX(version) FROM schema_migrations").fetchone()[0] \
            == version - 1
    env.unlink()
    env.write_bytes(b"this is not a database" * 100)
    status, lines, _ = doctor(capsys, "--offline")
    assert status == 1
    assert lines["database"].startswith("FAIL  database: OMNICORD_DB: ")


def test_a_database_folder_that_cannot_be_written_fails(
    env: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    if os.geteuid() == 0:
        pytest.skip("root writes anywhere")
    locked = tmp_path / "locked"
    locked.mkdir(mode=stat.S_IRUSR | stat.S_IXUSR)
    monkeypatch.setenv("OMNICORD_DB", str(locked / "sub" / "omnicord.db"))
    try:
        status, lines, _ = doctor(capsys, "--offline")
    finally:
        locked.chmod(stat.S_IRWXU)
    assert status == 1
    assert lines["database"].startswith(f"FAIL  database: no database at {locked}/sub/"
                                        f"omnicord.db, and {locked} is not writable")


DEBIAN_ENCODERS = """Encoders:
 V..... = Video
 A..... = Audio
 ------
 V....D mjpeg                Motion JPEG
 A....D aac                  AAC (Advanced Audio Coding)
 A....D libmp3lame           libmp3lame MP3 (MPEG audio layer 3) (codec mp3)
 A....D libopus              libopus Opus (codec opus)
 A....D pcm_s16le            PCM signed 16-bit little-endian
"""
DEBIAN_DECODERS = """Decoders:
 V..... = Video
 ------
 V....D h264                 H.264 / AVC / MPEG-4 AVC / MPEG-4 part 10
 V....D vp8                  On2 VP8
 V....D vp9                  Google VP9
 V....D mpeg4                MPEG-4 part 2
 V....D mjpeg                Motion JPEG
 A....D aac                  AAC (Advanced Audio Coding)
 A....D flac                 FLAC (Free Lossless Audio Codec)
 A....D mp3float             MP3 (MPEG audio layer 3)
 A....D opus                 Opus
 A....D libvorbis            libvorbis (codec vorbis)
 A....D pcm_s16le            PCM signed 16-bit little-endian
 A....D amrnb                AMR-NB (Adaptive Multi-Rate NarrowBand)
"""


def test_codec_listings_are_read_and_what_is_missing_is_named() -> None:
    encoders, decoders = codec_names(DEBIAN_ENCODERS), codec_names(DEBIAN_DECODERS)
    assert "libopus" in encoders and "Video" not in encoders and "=" not in encoders
    build = Capabilities("5.1.6", encoders, decoders)
    assert build.missing_encoders() == ["libx264"]
    assert build.missing_decoders() == ["hevc"]
    check = ffmpeg_verdict("the system", "/usr/bin/ffmpeg", build)
    assert check.line() == ("FAIL  ffmpeg: ffmpeg 5.1.6 from the system: /usr/bin/ffmpeg lacks "
                            "libx264, hevc decoder — install an ffmpeg built with them and "
                            "point OMNICORD_FFMPEG at it")
    assert version_of("ffmpeg version 5.1.6-0+deb12u1 Copyright (c) 2000-2024") == "5.1.6"
    assert version_of("ffmpeg version n9.0.2-17-g2a571b6068-20260930 Copyright") == "9.0.2"


def test_the_wheel_s_real_ffmpeg_has_every_codec() -> None:
    build = inspect_ffmpeg(imageio_ffmpeg.get_ffmpeg_exe())
    assert build.missing_encoders() == [] and build.missing_decoders() == []
    assert build.version[0].isdigit()


def test_an_omnicord_ffmpeg_lacking_encoders_fails(
    env: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    (tmp_path / "encoders.txt").write_text(DEBIAN_ENCODERS)
    (tmp_path / "decoders.txt").write_text(DEBIAN_DECODERS)
    script = tmp_path / "old-ffmpeg"
    script.write_text(f"""#!/bin/sh
case "$*" in
  *-encoders*) cat {tmp_path / 'encoders.txt'} ;;
  *-decoders*) cat {tmp_path / 'decoders.txt'} ;;
  *) echo "ffmpeg version 5.1.6-0+deb12u1 Copyright (c) 2000-2024 the FFmpeg developers" ;;
esac
""")
    script.chmod(0o755)
    monkeypatch.setenv("OMNICORD_FFMPEG", str(script))
    status, lines, _ = doctor(capsys, "--offline")
    assert status == 1
    assert lines["ffmpeg"] == (f"FAIL  ffmpeg: ffmpeg 5.1.6 from OMNICORD_FFMPEG: {script} "
                               "lacks libx264, hevc decoder — unset OMNICORD_FFMPEG to use the "
                               "imageio-ffmpeg wheel's build, which has them")
    monkeypatch.setenv("OMNICORD_FFMPEG", str(tmp_path / "nowhere"))
    status, lines, _ = doctor(capsys, "--offline")
    assert status == 1
    assert lines["ffmpeg"].startswith("FAIL  ffmpeg: OMNICORD_FFMPEG: no ffmpeg at")


def test_offline_doctor_in_a_real_process_fails_a_missing_key_and_token(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("DASHSCOPE_", "OMNICORD_", "DISCORD_"))}
    env.update(PYTHONPATH=str(REPO), OMNICORD_DB=str(tmp_path / "omnicord.db"))
    result = run_cli(["doctor", "--offline"], env, tmp_path)
    assert result.returncode == 1, result.stdout + result.stderr
    statuses = [line.split()[0] for line in result.stdout.splitlines()]
    assert statuses == ["ok", "ok", "note", "FAIL", "FAIL"]
    assert result.stdout.splitlines()[-2:] == [
        "FAIL  model service: DASHSCOPE_API_KEY is not set — put your Model Studio API key in "
        ".env (`omnicord init` writes one) or the environment; or set DASHSCOPE_API_KEY_FILE "
        "to a file holding it",
        "FAIL  Discord: DISCORD_TOKEN is not set: needed for `omnicord run` — put the bot token "
        "from the developer portal (Bot → Reset Token) in .env (`omnicord init` writes one) or "
        "the environment; or set DISCORD_TOKEN_FILE to a file holding it"]
    assert result.stderr == ""
    (tmp_path / ".env").write_text("DASHSCOPE_API_KEY=sk-offline-0123456789\n"
                                   "DISCORD_TOKEN=MTIz.offline.token\n")
    present = run_cli(["doctor", "--offline"], env, tmp_path)
    assert present.returncode == 0, present.stdout
    assert present.stdout.splitlines()[-2:] == ["skip  model service: not checked (--offline)",
                                                "skip  Discord: not checked (--offline)"]
    assert "offline-0123456789" not in present.stdout + present.stderr


def test_a_database_under_a_file_fails(
    env: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    (tmp_path / "notes.txt").write_text("not a folder")
    monkeypatch.setenv("OMNICORD_DB", str(tmp_path / "notes.txt" / "omnicord.db"))
    status, lines, _ = doctor(capsys, "--offline")
    assert status == 1
    assert lines["database"] == (f"FAIL  database: no database at {tmp_path}/notes.txt/"
                                 f"omnicord.db, and {tmp_path}/notes.txt is not a folder — "
                                 "point OMNICORD_DB at a file in a folder")


def test_discord_out_of_reach_is_one_line(
    env: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(discord.http.Route, "BASE", "http://127.0.0.1:9/api/v10")
    status, lines, out = doctor(capsys)
    assert status == 1
    assert lines["Discord"] == ("FAIL  Discord: could not reach Discord at 127.0.0.1:9 "
                                "(ClientConnectorError) — check this machine's network and "
                                "firewall")
    assert "Traceback" not in out


def test_a_database_from_a_newer_omnicord_fails(
    env: Path, capsys: pytest.CaptureFixture[str],
) -> None:
    migrated(capsys)
    with sqlite3.connect(env) as db:
        latest = db.execute("SELECT MAX(version) FROM schema_migrations").fetchone()[0]
        db.execute("INSERT INTO schema_migrations (version, name, applied_at)"
                   " VALUES (999, '0999_future.sql', '2030-01-01')")
    status, lines, _ = doctor(capsys, "--offline")
    assert status == 1
    assert lines["database"] == (f"FAIL  database: sqlite {env}, schema version 999 is newer "
                                 f"than this Omnicord's ({latest}) — upgrade Omnicord to the "
                                 "release that migrated this database")


def test_a_silent_model_service_is_bounded(
    env: Path, dashscope: FakeDashScope, capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from omnicord.cli.commands.doctor import service as doctor_service

    monkeypatch.setattr(doctor_service, "PROBE_TIMEOUT", 1.0)
    monkeypatch.delenv("DISCORD_TOKEN")
    dashscope.add_fault(Fault(first_token_delay=5))
    status, lines, _ = doctor(capsys)
    assert status == 1
    assert lines["model service"] == (
        f"FAIL  model service: could not reach {dashscope.base_url}: no reply within 1 s — "
        "check DASHSCOPE_BASE_URL and that this machine can reach it")


def test_odd_or_missing_discord_fields_are_fail_lines_not_crashes(
    env: Path, fake_discord: FakeDiscord, capsys: pytest.CaptureFixture[str],
) -> None:
    migrated(capsys)
    bare = fake_discord.add_bot_guild("No permissions", ALL_NEEDED, omit=("permissions",))
    null = fake_discord.add_bot_guild("Null", None)
    odd = fake_discord.add_bot_guild("Odd", "lots")
    fake_discord.add_bot_guild("Nameless", ALL_NEEDED, omit=("name",))
    fake_discord.add_bot_guild("Fine", ALL_NEEDED)
    status, lines, out = doctor(capsys)
    assert status == 1, out
    assert "Traceback" not in out and "KeyError" not in out
    for name, guild in (("No permissions", bare), ("Null", null), ("Odd", odd)):
        assert lines[f'server "{name}" ({guild})'] == (
            f'FAIL  server "{name}" ({guild}): Discord did not say the bot\'s permissions here '
            "— check that the Omnicord role has the permissions its invite link asks for, "
            "then run the doctor again")
    assert lines["servers"].startswith("ok    servers: 2 of 5 servers give the bot")
    fake_discord.application_flags = None  # type: ignore[assignment]
    status, lines, out = doctor(capsys)
    assert status == 1
    assert lines["Message Content intent"].startswith(
        "FAIL  Message Content intent: Discord did not say whether it is on")


def test_a_password_in_the_base_url_is_never_shown(
    env: Path, dashscope: FakeDashScope, capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("DISCORD_TOKEN")
    monkeypatch.setenv("DASHSCOPE_API_KEY", "sk-wrong-key-for-this-test-0123")
    for secret in ("proxy-Secret-61", "pro%40xy%2FSecret%2362"):
        with_password = dashscope.base_url.replace("://", f"://omni:{secret}@", 1)
        monkeypatch.setenv("DASHSCOPE_BASE_URL", with_password)
        status, lines, out = doctor(capsys)
        assert status == 1
        assert "omni:***@" in lines["model service"], out
        for piece in (secret, "Secret-61", "Secret#62", "pro@xy", "pro%40xy"):
            assert piece not in out
    monkeypatch.setenv("DASHSCOPE_BASE_URL", f"{dashscope.base_url}?api_key=query-Secret-63")
    _, lines, out = doctor(capsys)
    assert "api_key=***" in lines["model service"] and "query-Secret-63" not in out
    broken = dashscope.base_url.replace("://", "://omni:pro@xy/Secret#64@", 1)
    monkeypatch.setenv("DASHSCOPE_BASE_URL", broken)
    status, lines, out = doctor(capsys)
    assert status == 1 and "Traceback" not in out
    assert lines["settings"].startswith("FAIL  settings: DASHSCOPE_BASE_URL: ")
    assert "percent-encode" in lines["settings"]
    for piece in ("pro@xy", "Secret#64", "Secret"):
        assert piece not in out
