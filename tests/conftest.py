"""Shared fixtures: the offline DashScope server, an environment for the CLI, and media."""

from __future__ import annotations

import logging
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.doubles.fake_dashscope import FakeDashScope

REPO = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="session")
def dashscope_server() -> Iterator[FakeDashScope]:
    """One offline DashScope for the whole run."""
    with FakeDashScope(api_key="sk-test-omnicord-0123456789") as server:
        yield server


@pytest.fixture
def dashscope(dashscope_server: FakeDashScope) -> Iterator[FakeDashScope]:
    """The offline DashScope, with recorded requests and faults cleared for each test."""
    dashscope_server.reset()
    yield dashscope_server
    dashscope_server.reset()


@pytest.fixture
def cli_env(dashscope: FakeDashScope, tmp_path: Path) -> dict[str, str]:
    """Environment for running the CLI against the offline server, isolated from the host."""
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("DASHSCOPE_", "OMNICORD_", "DISCORD_"))}
    env.update(
        DASHSCOPE_API_KEY=dashscope.api_key,
        DASHSCOPE_BASE_URL=dashscope.base_url,
        OMNICORD_MAX_RETRIES="0",
        OMNICORD_REQUEST_TIMEOUT="20",
        OMNICORD_DB=str(tmp_path / "omnicord.db"),
        PYTHONPATH=str(REPO),
    )
    return env


def run_cli(args: list[str], env: dict[str, str], cwd: Path,
            stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    """Run ``python -m omnicord ARGS`` in a fresh process, as a user would."""
    return subprocess.run(
        [sys.executable, "-m", "omnicord", *args],
        env=env, cwd=cwd, input=stdin, capture_output=True, text=True, timeout=120,
    )


@pytest.fixture(autouse=True)
def _catalog_restored() -> Iterator[None]:
    """Loading settings with OMNICORD_MODELS_FILE (in-process commands, the bot's runtime)
    installs that file's catalog for the whole process; each test gets the catalog back."""
    from omnicord.model.catalog import restored

    with restored():
        yield


@pytest.fixture(autouse=True)
def _ffmpeg_search_restored() -> Iterator[None]:
    """Commands run in-process (``omnicord.cli.main``) configure OMNICORD_FFMPEG for the whole
    process; a test that pointed it at a stand-in must not hand that to the next test."""
    yield
    from omnicord.media.ffmpeg import configure_ffmpeg

    configure_ffmpeg(None)


@pytest.fixture(autouse=True)
def _logging_restored() -> Iterator[None]:
    """``omnicord run`` in-process (and ``configure_logging``) installs handlers and levels for
    the whole process; each test gets back the logging it started with."""
    root, ours = logging.getLogger(), logging.getLogger("omnicord")
    handlers, level, our_level = list(root.handlers), root.level, ours.level
    yield
    for handler in root.handlers:
        if handler not in handlers:
            handler.close()
    root.handlers[:] = handlers
    root.setLevel(level)
    ours.setLevel(our_level)
