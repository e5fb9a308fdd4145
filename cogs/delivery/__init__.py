"""What Omnicord sends into Discord: streamed replies split to fit and paced to Discord's edit
rate, native voice messages and their waveform, and the friendly line a failure becomes."""
