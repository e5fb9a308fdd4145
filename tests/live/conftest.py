from tests.doubles.fake_realtime.fixtures import fake_realtime, fake_realtime_server

__all__ = ["fake_realtime", "fake_realtime_server"]
