"""Omnicord: Qwen-Omni for Discord. Installed as the ``omnicord`` package (the repository's
``bot/`` folder); its Discord plugin is ``omnicord.cogs`` (the ``cogs/`` folder).

Nothing outside ``omnicord.cogs`` imports discord.
"""

__version__ = "0.2.0"
