"""Live voice on the Discord side: hearing members in a voice channel (RTP over UDP, transport
decryption, the DAVE layer) and speaking an answer (an ``AudioSource`` of ready Opus packets).
The audio itself (Opus, mixing, resampling) is the core's: ``omnicord.voice``."""
