"""Omnicord's discord.py extensions (installed as ``omnicord.cogs``). Each module in
``EXTENSIONS`` has ``async def setup(bot)`` and loads into any ``commands.Bot`` with
``await bot.load_extension(name)``."""

#: The extensions the standalone runner loads, in order.
EXTENSIONS: tuple[str, ...] = (
    "omnicord.cogs.chat",
    "omnicord.cogs.caption",
    "omnicord.cogs.settings",
    "omnicord.cogs.usage",
    "omnicord.cogs.privacy",
    "omnicord.cogs.talk",
)
