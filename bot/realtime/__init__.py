"""Live talk with Qwen-Omni's realtime models over one WebSocket per session.

- ``events.py``: what a session yields (frozen dataclasses; imports nothing heavy).
- ``protocol.py``: the client events sent and the server events read, as plain dicts.
- ``client.py``: ``RealtimeClient`` (connects, paced once per session) and
  ``RealtimeSession`` (streams audio in, yields events, cancels on barge-in, renews itself
  before the service's session limit). It imports aiohttp: import it only when talking.

This package imports nothing of Discord: the voice transport feeds it PCM and plays back
what it yields.
"""
