"""The pytest fixtures of the realtime stand-in (import them into a conftest or a test
module): ``fake_realtime_server``, one server for the run; ``fake_realtime``, the same server
reset before and after each test."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.doubles.fake_realtime.server import FakeRealtime

#: The key the stand-in takes: the same as the offline DashScope's, so ``cli_env`` fits both.
API_KEY = "sk-test-omnicord-0123456789"


@pytest.fixture(scope="session")
def fake_realtime_server() -> Iterator[FakeRealtime]:
    """One offline realtime service for the whole run."""
    with FakeRealtime(api_key=API_KEY) as server:
        yield server


@pytest.fixture
def fake_realtime(fake_realtime_server: FakeRealtime) -> Iterator[FakeRealtime]:
    """The offline realtime service, its records, knobs and faults reset for each test."""
    fake_realtime_server.reset()
    yield fake_realtime_server
    fake_realtime_server.reset()
