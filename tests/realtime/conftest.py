"""The realtime stand-in's fixtures for these tests."""

from tests.doubles.fake_realtime.fixtures import fake_realtime, fake_realtime_server

__all__ = ["fake_realtime", "fake_realtime_server"]
