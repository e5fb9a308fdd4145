"""Live voice in the core: Opus in and out (PyAV, in process), resampling, mixing speakers, and
the answer's audio queued as Opus packets for a voice channel. Nothing here imports discord;
the Discord side (receiving and sending RTP) is ``omnicord.cogs.voice``."""
