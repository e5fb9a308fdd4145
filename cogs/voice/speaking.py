"""Speaking in a voice channel: answers as a discord.py ``AudioSource`` of ready Opus packets.

``AnswerSource.is_opus()`` is true, so discord.py sends the packets as they are (no libopus
needed on the Discord side; the core encodes with PyAV). discord.py's player reads a packet
every 20 ms and stops for good when ``read`` returns ``b""``. So a player runs only while
answers play: ``read`` returns the next packet, Opus silence while the answer is buffering
(the model has not sent enough yet), and ``b""`` once every answer it holds is finished. An
answer that starts while another still plays is queued behind it on the same player. Barge-in
is ``stop()``: every queued answer is cleared and the player stopped at once.
"""

from __future__ import annotations

import collections
import threading

import discord
from omnicord.voice.codec import OPUS_SILENCE
from omnicord.voice.playback import AnswerAudio


class AnswerSource(discord.AudioSource):
    """Answers (``AnswerAudio``) as 20 ms Opus packets for discord.py's player thread."""

    def __init__(self, audio: AnswerAudio) -> None:
        self._answers: collections.deque[AnswerAudio] = collections.deque([audio])
        self._lock = threading.Lock()
        self.done = False
        self.silences = 0

    def append(self, audio: AnswerAudio) -> bool:
        """Queue another answer after the current one; false if this source already ended
        (start a new one)."""
        with self._lock:
            if self.done:
                return False
            self._answers.append(audio)
            return True

    def is_opus(self) -> bool:
        """The packets are Opus already: discord.py sends them as they are."""
        return True

    def read(self) -> bytes:
        """The next packet; Opus silence while buffering; ``b""`` when every answer is done."""
        with self._lock:
            while self._answers:
                answer = self._answers[0]
                packet = answer.next_packet()
                if packet is not None:
                    return packet
                if not answer.finished:
                    self.silences += 1
                    return OPUS_SILENCE
                self._answers.popleft()
            self.done = True
            return b""

    def clear(self) -> None:
        """Barge-in: drop every queued answer; the next ``read`` ends the player."""
        with self._lock:
            for answer in self._answers:
                answer.clear()
            self._answers.clear()
            self.done = True

    def cleanup(self) -> None:
        """discord.py's player ended: nothing more plays from here."""
        self.clear()
