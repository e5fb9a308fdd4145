"""Omnicord as a new user installs it: a built wheel, in a fresh virtual environment, loaded
into a host bot that has its own ``bot.py`` and ``cogs/`` package."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import sysconfig
import textwrap
import zipfile
from pathlib import Path

import pytest

from tests.conftest import REPO

HOST_SCRIPT = textwrap.dedent('''
    """A RoboDanny-style host: its own bot.py and cogs/ package, Omnicord loaded beside them."""
    import asyncio
    import sys
    from pathlib import Path

    import bot as host_bot        # the host's own bot.py
    import cogs as host_cogs      # the host's own cogs/ package
    import omnicord

    sys.path.append(sys.argv[1])  # the test doubles only; the host's names come first
    import discord
    from discord.ext import commands

    from omnicord.settings import Settings
    from tests.doubles.fake_dashscope import FakeDashScope
    from tests.doubles.fake_discord import DiscordHarness, FakeDiscord

    HOST = ["cogs.settings", "cogs.chat", "cogs.usage", "cogs.privacy", "cogs.caption"]
    OMNICORD = ["omnicord.cogs.chat", "omnicord.cogs.caption", "omnicord.cogs.settings",
                "omnicord.cogs.usage", "omnicord.cogs.privacy"]


    class HostBot(commands.Bot):
        async def setup_hook(self):
            for name in HOST + OMNICORD:
                await self.load_extension(name)


    def show(bot, when):
        """What the host has: cogs, prefix commands, message listeners, slash commands."""
        print(f"{when} cogs:", ",".join(sorted(bot.cogs)))
        print(f"{when} commands:", ",".join(sorted(bot.all_commands)))
        print(f"{when} listeners:", len(bot.extra_events.get("on_message", [])))
        print(f"{when} tree:", ",".join(sorted(c.name for c in bot.tree.get_commands())))


    async def main(folder):
        assert host_bot.HOST_BOT and host_cogs.HOST_COGS
        with FakeDashScope(api_key="sk-host-0123456789") as model:
            fake = FakeDiscord()
            fake.start()
            intents = discord.Intents.default()
            intents.message_content = True
            bot = HostBot(command_prefix="!", intents=intents)
            bot.omnicord_settings = Settings(
                DASHSCOPE_API_KEY=model.api_key, DASHSCOPE_BASE_URL=model.base_url,
                OMNICORD_DB=folder / "omnicord.db", OMNICORD_COOLDOWN_SECONDS=0,
                OMNICORD_MAX_RETRIES=0)
            bot.omnicord_url_rewrite = fake.local_url_for
            try:
                async with DiscordHarness(bot, fake=fake) as h:
                    guild = h.add_guild("Host", channels=("general",))
                    member = h.add_member(guild, "ada")
                    channel = guild.text_channels[0]
                    h.message_create(channel, member, "hello from a host", mention_bot=True)
                    await h.settle(timeout=30)
                    texts = [m.get("content") for m in fake.channel_messages(channel.id)]
                    show(bot, "loaded")
                    group = bot.tree.get_command("omni")
                    print("omni:", ",".join(sorted(c.name for c in group.commands)))
                    print("reply:", texts[-1])
                    for name in OMNICORD:
                        await bot.unload_extension(name)
                    show(bot, "unloaded")
                    print("seen before:", ",".join(str(c.seen) for c in bot.cogs.values()))
                    h.message_create(channel, member, "!host-settings")
                    await h.settle(timeout=30)
                    print("host:", fake.channel_messages(channel.id)[-1].get("content"))
                    print("seen:", ",".join(str(c.seen) for c in bot.cogs.values()))
            finally:
                fake.stop()


    print("omnicord:", omnicord.__version__, Path(omnicord.__file__).parent)
    asyncio.run(main(Path(sys.argv[2])))
''')


#: The host's own cogs (module: class), named as Omnicord's own cogs once were.
HOST_COGS = {"settings": "Settings", "chat": "Chat", "usage": "Usage", "privacy": "Privacy",
             "caption": "Captions"}
HOST_COG = textwrap.dedent('''
    import discord
    from discord.ext import commands


    class {name}(commands.Cog):
        """The host's own {name} cog: a message listener and a prefix command."""

        def __init__(self):
            self.seen = 0

        @commands.Cog.listener()
        async def on_message(self, message):
            self.seen += 1

        @commands.command(name="host-{word}")
        async def host_command(self, ctx):
            await ctx.send("host {word} works", allowed_mentions=discord.AllowedMentions.none())


    async def setup(bot):
        await bot.add_cog({name}())
''')


#: What a build reads from the repository (a private copy each: setuptools writes its build
#: folders into the source tree, so two workers building one tree at once collide).
SOURCES = ("pyproject.toml", "README.md", "LICENSE", ".env.example", "MANIFEST.in", "bot", "cogs")


def build_wheel(folder: Path) -> Path:
    source = folder / "source"
    for name in SOURCES:
        if (REPO / name).is_dir():
            shutil.copytree(REPO / name, source / name, symlinks=True,
                            ignore=shutil.ignore_patterns("__pycache__", "*.egg-info"))
        elif (REPO / name).exists():
            source.mkdir(exist_ok=True)
            shutil.copy2(REPO / name, source / name)
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation",
                    "-q", "-w", str(folder), str(source)], check=True, timeout=300,
                   capture_output=True)
    (wheel,) = folder.glob("omnicord-*.whl")
    return wheel


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_wheel(tmp_path_factory.mktemp("wheel"))


def test_the_wheel_holds_one_package_of_its_own(wheel: Path) -> None:
    names = zipfile.ZipFile(wheel).namelist()
    tops = {name.split("/")[0] for name in names if not name.split("/")[0].endswith(
        (".dist-info", ".data"))}
    assert tops == {"omnicord"}
    for shipped in ("omnicord/py.typed", "omnicord/cogs/chat.py", "omnicord/cogs/delivery/split.py",
                    "omnicord/store/sqlite/migrations/0001_conversations.sql",
                    "omnicord/store/postgres/migrations/0001_conversations_usage_settings.sql",
                    "omnicord/media/worker.py"):
        assert shipped in names
    assert any(name.endswith(".dist-info/licenses/LICENSE") for name in names)
    metadata = next(n for n in names if n.endswith(".dist-info/METADATA"))
    text = zipfile.ZipFile(wheel).read(metadata).decode()
    assert "License-Expression: MIT" in text
    # omnicord init's template is the repository's .env.example, copied in (not a link)
    assert zipfile.ZipFile(wheel).read("omnicord/env.example") == (
        REPO / ".env.example").read_bytes()
    assert "Requires-Dist: discord.py[voice]<2.8,>=2.7" in text
    assert "Requires-Dist: av>=14" in text  # Opus for live talk, libopus in its wheels
    for classifier in ("Programming Language :: Python :: 3.11", "Operating System :: POSIX",
                       "Framework :: AsyncIO", "Topic :: Communications :: Chat"):
        assert f"Classifier: {classifier}" in text
    from omnicord import __version__

    assert f"Version: {__version__}" in text


def test_a_host_with_its_own_bot_and_cogs_runs_omnicord_from_the_wheel(
    wheel: Path, tmp_path: Path
) -> None:
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=120)
    python = venv / "bin" / "python"
    subprocess.run([str(python), "-m", "pip", "install", "-q", "--no-deps", "--no-index",
                    str(wheel)], check=True, timeout=120, capture_output=True)
    # Dependencies come from the test environment (no network): a plain path entry, which
    # does not run the test environment's own .pth files (its editable Omnicord stays out).
    site = Path(subprocess.run([str(python), "-c", "import sysconfig; print(sysconfig."
                                "get_paths()['purelib'])"], check=True, capture_output=True,
                               text=True).stdout.strip())
    (site / "test-dependencies.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")

    host = tmp_path / "host"
    (host / "cogs").mkdir(parents=True)
    (host / "bot.py").write_text("HOST_BOT = True\n")
    (host / "cogs" / "__init__.py").write_text("HOST_COGS = True\n")
    for module, name in HOST_COGS.items():
        (host / "cogs" / f"{module}.py").write_text(
            HOST_COG.format(name=name, word=name.lower()))
    (host / "run_host.py").write_text(HOST_SCRIPT)
    env = {k: v for k, v in os.environ.items()
           if k not in ("PYTHONPATH",) and not k.startswith(("OMNICORD_", "DASHSCOPE_"))}
    result = subprocess.run([str(python), "run_host.py", str(REPO), str(tmp_path)], cwd=host,
                            env=env, capture_output=True, text=True, timeout=180)
    assert result.returncode == 0, result.stderr[-3000:]
    lines = dict(line.split(": ", 1) for line in result.stdout.splitlines() if ": " in line)
    assert str(venv) in lines["omnicord"]  # the wheel's copy, not the repository's
    host_cogs = ",".join(sorted(HOST_COGS.values()))
    assert lines["loaded cogs"] == ("Captions,Chat,OmnicordCaptions,OmnicordChat,OmnicordPrivacy,"
                                    "OmnicordSettings,OmnicordUsage,Privacy,Settings,Usage")
    assert {"thread", "caption", "status", "usage", "forget"} <= set(lines["omni"].split(","))
    assert lines["loaded tree"] == "Caption audio,Transcribe audio,omni,omni-admin"
    assert lines["reply"].startswith("Echo: ") and "hello from a host" in lines["reply"]
    # Unloaded: the host's cogs, prefix commands and listeners are all still there and work.
    assert lines["unloaded cogs"] == host_cogs
    assert lines["unloaded commands"] == lines["loaded commands"] == (
        "help,host-captions,host-chat,host-privacy,host-settings,host-usage")
    assert lines["unloaded listeners"] == "5" and lines["loaded listeners"] == "7"
    assert lines["unloaded tree"] == ""
    assert lines["host"] == "host settings works"
    before = [int(n) for n in lines["seen before"].split(",")]
    assert len(set(before)) == 1 and before[0] >= 2  # the mention and Omnicord's reply
    assert lines["seen"] == ",".join([str(before[0] + 2)] * 5)  # !host-settings and its answer
    cli = subprocess.run([str(python), "-m", "omnicord", "voices"], cwd=host, env=env,
                         capture_output=True, text=True, timeout=60)
    assert cli.returncode == 0 and "Cherry" in cli.stdout
    init = subprocess.run([str(python), "-m", "omnicord", "init"], cwd=host, env=env,
                          capture_output=True, text=True, timeout=60)
    assert init.returncode == 0, init.stderr
    assert (host / ".env").read_text().endswith((REPO / ".env.example").read_text())
