"""Live talk in voice channels: the core of a session (``session``) and its rules (``rules``).

Nothing here imports discord: the Discord side carries packets in and plays answers out.
"""
