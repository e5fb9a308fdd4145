"""``omnicord run`` as a real process, stopped by SIGTERM or SIGINT: replies under way finish
within OMNICORD_SHUTDOWN_GRACE, later ones are cut with nothing stored, the database is
closed and the process exits 0 with one summary line.

The process talks to the local doubles only: Discord's REST API and a websocket gateway
(``FakeDiscord`` with ``SocketGateway``) and the offline model server."""

from __future__ import annotations

import re
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from omnicord.cogs.runtime.inflight import STOPPED_NOTE as STOPPED

from tests.doubles.fake_dashscope import FakeDashScope
from tests.doubles.fake_discord import IS_VOICE_MESSAGE, FakeDiscord
from tests.doubles.fake_discord.ws_gateway import Guild, SocketGateway, has_message_content

TOKEN = "fake-discord-token.for-the-run-tests"
ONLINE = "Omnicord is online"
STOPPED_NOTE = str(STOPPED)  # the test servers speak English
LONG_REPLY = " ".join(f"word{i}" for i in range(60))  # 20 chunks of three words


@dataclass
class Running:
    """One ``omnicord run`` process and the doubles it talks to."""

    process: subprocess.Popen[bytes]
    fake: FakeDiscord
    gateway: SocketGateway
    guild: Guild
    member: dict
    folder: Path

    @property
    def channel(self) -> int:
        return self.guild.channel_ids[0]

    def output(self) -> str:
        return (self.folder / "stdout.txt").read_text("utf-8", "replace")

    def errors(self) -> str:
        return (self.folder / "stderr.txt").read_text("utf-8", "replace")

    def wait_for(self, what: str, ready: Callable[[], object], timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while not ready():
            if self.process.poll() is not None or time.monotonic() > deadline:
                raise AssertionError(f"no {what}; exit {self.process.poll()}\n"
                                     f"stdout: {self.output()}\nstderr: {self.errors()}")
            time.sleep(0.05)

    def ask(self, question: str) -> None:
        """The member mentions the bot; returns once the reply's first text is shown."""
        self.gateway.message_create(self.guild, self.channel, self.member, question,
                                    mention_bot=True)
        self.wait_for("first text", lambda: self.bot_messages())

    def bot_messages(self) -> list[str]:
        me = self.fake.bot_user["id"]
        return [m.get("content") or "" for m in self.fake.channel_messages(self.channel)
                if m["author"]["id"] == me]

    def stop(self, signum: int = signal.SIGTERM, timeout: float = 60) -> float:
        """Send ``signum``; seconds until the process ended."""
        started = time.monotonic()
        self.process.send_signal(signum)
        self.process.wait(timeout)
        return time.monotonic() - started

    def rows(self, table: str) -> list[tuple]:
        with sqlite3.connect(self.folder / "omnicord.db") as db:
            columns = "text, reply_text" if table == "turns" else "*"
            return db.execute(f"SELECT {columns} FROM {table}").fetchall()


@pytest.fixture
def start(dashscope: FakeDashScope, cli_env: dict[str, str], tmp_path: Path
          ) -> Iterator[Callable[..., Running]]:
    """Start ``omnicord run`` (settings as keyword arguments) and wait until it is online."""
    started: list[Running] = []
    fake = FakeDiscord()
    fake.start()

    def launch(**settings: str) -> Running:
        gateway = SocketGateway(fake)
        guild = gateway.add_guild()
        member = gateway.add_member(guild, "bo")
        env = {**cli_env, "DISCORD_TOKEN": TOKEN, "OMNICORD_TEST_DISCORD_API": fake.api_base,
               "OMNICORD_COOLDOWN_SECONDS": "0", "OMNICORD_REPLY_MODE": "text", **settings}
        with open(tmp_path / "stdout.txt", "wb") as out, \
                open(tmp_path / "stderr.txt", "wb") as err:
            process = subprocess.Popen([sys.executable, "-m", "tests.doubles.run_omnicord",
                                        "run"], env=env, cwd=tmp_path, stdout=out, stderr=err)
        running = Running(process, fake, gateway, guild, member, tmp_path)
        started.append(running)
        running.wait_for("start-up", lambda: ONLINE in running.output())
        return running

    yield launch
    for running in started:
        if running.process.poll() is None:
            running.process.kill()
            running.process.wait(10)
    fake.stop()


def assert_closed_cleanly(running: Running) -> None:
    assert running.process.returncode == 0, running.errors()
    wal = running.folder / "omnicord.db-wal"
    assert not wal.exists() or wal.stat().st_size == 0  # last connection closed: checkpointed
    assert "Traceback" not in running.errors()
    assert TOKEN not in running.output() + running.errors()


def test_sigterm_lets_a_reply_under_way_finish_and_stores_it(
    dashscope: FakeDashScope, start: Callable[..., Running]
) -> None:
    dashscope.reply_text, dashscope.token_delay = LONG_REPLY, 0.3  # about 6 s of streaming
    running = start(OMNICORD_LOG_FILE="logs/omnicord.log")
    running.ask("tell me a long story")
    assert running.bot_messages()[-1] != LONG_REPLY  # still streaming when the signal comes
    running.stop(signal.SIGTERM)
    assert_closed_cleanly(running)
    assert running.bot_messages() == [LONG_REPLY]  # the final edit made it
    assert running.rows("turns") == [("tell me a long story", LONG_REPLY)]
    assert len(running.rows("usage")) == 1
    assert running.output().splitlines()[-1] == "Omnicord stopped (1 reply finished, 0 cut)"
    logged = (running.folder / "logs" / "omnicord.log").read_text()
    (line,) = [line for line in logged.splitlines() if " reply scope=" in line]
    assert re.search(rf"scope=chain:{running.channel}:\d+ member=~[0-9a-f]{{8}} ", line)
    assert running.member["id"] not in logged  # at INFO a member is a pseudonym
    assert "stopping: 1 replies under way" in logged and "long story" not in logged
    assert TOKEN not in logged and dashscope.api_key not in logged


def test_a_reply_past_the_grace_is_cut_with_nothing_stored(
    dashscope: FakeDashScope, start: Callable[..., Running]
) -> None:
    dashscope.reply_text, dashscope.token_delay = LONG_REPLY, 2.0  # about 40 s of streaming
    running = start(OMNICORD_SHUTDOWN_GRACE="0.5")
    running.ask("tell me a very long story")
    took = running.stop(signal.SIGTERM)
    assert took < 0.5 + 20, took  # the grace, the member's note, closing: not the 40 s stream
    assert_closed_cleanly(running)
    assert running.rows("turns") == [] and running.rows("usage") == []
    assert running.bot_messages() == [STOPPED_NOTE]
    assert running.output().splitlines()[-1] == "Omnicord stopped (0 replies finished, 1 cut)"


def test_a_second_signal_stops_at_once(
    dashscope: FakeDashScope, start: Callable[..., Running]
) -> None:
    dashscope.reply_text, dashscope.token_delay = LONG_REPLY, 2.0  # about 40 s of streaming
    running = start(OMNICORD_SHUTDOWN_GRACE="60", OMNICORD_LOG_FILE="logs/omnicord.log")
    running.ask("another long story")
    running.process.send_signal(signal.SIGINT)
    log = running.folder / "logs" / "omnicord.log"
    running.wait_for("stopping", lambda: log.exists()
                     and "stopping: 1 replies under way" in log.read_text())
    # stopping now: still connected, waiting out the grace
    running.gateway.message_create(running.guild, running.channel, running.member,
                                   "and one more", mention_bot=True)
    time.sleep(0.5)
    took = running.stop(signal.SIGINT)
    assert took < 20, took  # neither the 60 s grace nor the 40 s stream
    assert_closed_cleanly(running)
    assert len(dashscope.requests) == 1  # the message that came while stopping was not taken
    assert running.bot_messages() == [STOPPED_NOTE]
    assert running.rows("turns") == []
    assert running.output().splitlines()[-1] == "Omnicord stopped (0 replies finished, 1 cut)"


@pytest.mark.parametrize("content", ["true", "false"])
def test_sigint_stops_an_idle_bot_and_identify_follows_the_content_setting(
    start: Callable[..., Running], content: str
) -> None:
    running = start(OMNICORD_MESSAGE_CONTENT=content)
    [identify] = running.gateway.wait_identified()
    assert has_message_content(identify) is (content == "true")
    assert ("OMNICORD_MESSAGE_CONTENT=false" in running.output()) is (content == "false")
    assert running.stop(signal.SIGINT) < 15  # not the 20 s grace
    assert_closed_cleanly(running)
    assert running.output().splitlines()[-1] == "Omnicord stopped (0 replies finished, 0 cut)"


def voice_upload_rate_limited(dashscope: FakeDashScope, start: Callable[..., Running], *,
                              grace: str, retry_after: float, mode: str = "both") -> Running:
    """A spoken reply whose text (if shown) is final and whose voice message is held back by
    a 429 when SIGTERM comes."""
    dashscope.reply_text = "A short spoken answer."
    running = start(OMNICORD_SHUTDOWN_GRACE=grace, OMNICORD_REPLY_MODE=mode)
    running.fake.rate_limit_next_voice_message(retry_after)
    running.gateway.message_create(running.guild, running.channel, running.member,
                                   "say something", mention_bot=True)
    running.wait_for("a rate-limited voice upload", lambda: any(
        r.status == 429 for r in running.fake.find("POST", r"/channels/\d+/messages")))
    shown = ["A short spoken answer."] if mode == "both" else []
    assert running.bot_messages() == shown  # the text is already final
    running.stop(signal.SIGTERM)
    assert_closed_cleanly(running)
    return running


def voice_messages(running: Running) -> list[dict]:
    return [m for m in running.fake.channel_messages(running.channel)
            if m["flags"] & IS_VOICE_MESSAGE]


@pytest.mark.parametrize("mode", ["both", "voice"])
def test_a_reply_cut_while_its_voice_message_uploads_shows_the_note_and_stores_nothing(
    dashscope: FakeDashScope, start: Callable[..., Running], mode: str
) -> None:
    running = voice_upload_rate_limited(dashscope, start, grace="0.5", retry_after=10,
                                        mode=mode)
    assert running.bot_messages() == [STOPPED_NOTE]  # the shown text replaced, or a reply
    assert voice_messages(running) == []
    assert running.rows("turns") == [] and running.rows("usage") == []
    assert running.output().splitlines()[-1] == "Omnicord stopped (0 replies finished, 1 cut)"


def test_a_voice_message_held_by_a_rate_limit_within_the_grace_is_delivered_and_stored(
    dashscope: FakeDashScope, start: Callable[..., Running]
) -> None:
    running = voice_upload_rate_limited(dashscope, start, grace="30", retry_after=2)
    assert running.bot_messages()[0] == "A short spoken answer."
    assert len(voice_messages(running)) == 1
    assert running.rows("turns") == [("say something", "A short spoken answer.")]
    assert len(running.rows("usage")) == 1
    assert running.output().splitlines()[-1] == "Omnicord stopped (1 reply finished, 0 cut)"
