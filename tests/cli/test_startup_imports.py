"""What the fast commands leave unloaded (the start-up times themselves are measured by
``bench/startup.py``, never here)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

#: Run ``omnicord ARGV`` in this process, then print which of the named modules it loaded.
PROBE = """import sys, runpy
sys.argv = ['omnicord', *{argv!r}]
try:
    runpy.run_module('omnicord', run_name='__main__')
except SystemExit as done:
    code = done.code
print(code, sorted(name for name in {modules!r} if name in sys.modules))
"""


@pytest.mark.parametrize(("argv", "modules"), [
    # --help imports every command module: none may import anything heavy at top level.
    (["--help"], ["pydantic", "omnicord.settings", "asyncio", "openai", "discord", "PIL",
                  "omnicord.services", "omnicord.store.sqlite", "omnicord.media.prepare",
                  "omnicord.policy.usage", "omnicord.conversation.respond"]),
    (["voices"], ["asyncio", "omnicord.media.ffmpeg", "omnicord.store.sqlite", "pydantic",
                  "dotenv"]),
    (["reset", "s"], ["pydantic", "omnicord.policy.usage", "openai"]),
    (["history", "s"], ["pydantic", "openai", "omnicord.media.ffmpeg"]),
    (["db", "status"], ["pydantic", "openai", "asyncpg"]),
    (["doctor", "--offline"], ["discord", "openai"]),
    (["init"], ["pydantic", "omnicord.settings", "asyncio", "dotenv"]),
])
def test_fast_commands_leave_unused_modules_unloaded(
    argv: list[str], modules: list[str], cli_env: dict[str, str], tmp_path: Path
) -> None:
    probe = PROBE.format(argv=argv, modules=modules)
    env = cli_env | {"DISCORD_TOKEN": "MTIz.startup.token"}  # the offline doctor checks it is set
    result = subprocess.run([sys.executable, "-c", probe], env=env, cwd=tmp_path,
                            capture_output=True, text=True, timeout=60)
    assert result.stdout.splitlines()[-1] == "0 []", result.stdout + result.stderr


def test_a_dotenv_file_is_still_read_with_python_dotenv(
    cli_env: dict[str, str], tmp_path: Path
) -> None:
    (tmp_path / ".env").write_text("OMNICORD_MODEL=qwen-omni-turbo\n")
    env = {k: v for k, v in cli_env.items() if k != "OMNICORD_MODEL"}
    probe = PROBE.format(argv=["voices"], modules=["dotenv"])
    result = subprocess.run([sys.executable, "-c", probe], env=env, cwd=tmp_path,
                            capture_output=True, text=True, timeout=60)
    assert result.stdout.splitlines() == ["Cherry", "Serena", "Ethan", "Chelsie",
                                          "0 ['dotenv']"], result.stderr
