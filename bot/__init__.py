"""Omnicord core: settings, model catalog, media, model clients, conversations, speech.

Nothing in this package imports discord; the cogs in ``cogs/`` translate Discord to these calls.
"""

__version__ = "0.1.0"
