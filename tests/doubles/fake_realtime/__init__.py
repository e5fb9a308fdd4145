"""Offline stand-in for DashScope's realtime WebSocket API (``qwen3-omni-flash-realtime``,
``qwen-omni-turbo-realtime``): ``FakeRealtime``, a real local server on 127.0.0.1.

- ``server.py``: ``FakeRealtime`` (its knobs, faults and records are in its docstring).
- ``rules.py``: the models, voices and client events it takes, checked as the vendor's
  pages document them (``Invalid`` becomes an ``error`` event).
- ``vad.py``: the energy VAD that stands in for server VAD (20 ms frames, RMS threshold).
- ``fixtures.py``: the pytest fixtures ``fake_realtime_server`` (one per run) and
  ``fake_realtime`` (reset for each test).

It imports nothing from the ``bot`` package.
"""

from tests.doubles.fake_realtime.rules import (
    FLASH_VOICES,
    MAX_APPEND_BYTES,
    MODELS,
    TURBO_VOICES,
    Invalid,
    RealtimeModel,
)
from tests.doubles.fake_realtime.server import PATH, FakeRealtime, tone
from tests.doubles.fake_realtime.vad import EnergyVad

__all__ = ["FLASH_VOICES", "MAX_APPEND_BYTES", "MODELS", "PATH", "TURBO_VOICES", "EnergyVad",
           "FakeRealtime", "Invalid", "RealtimeModel", "tone"]
