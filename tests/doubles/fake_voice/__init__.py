"""A stand-in for Discord's voice servers: ``FakeVoiceServer`` (voice gateway v8 on a real
websocket, UDP with IP discovery, RTP both ways) and speech-like test audio (``speech``).
The ``voice_harness`` fixture (``fixtures.py``) connects a real discord.py bot to it."""

from tests.doubles.fake_voice.server import FakeVoiceServer, SentPacket, VoiceSession

__all__ = ["FakeVoiceServer", "SentPacket", "VoiceSession"]
