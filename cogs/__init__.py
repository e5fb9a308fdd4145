"""Omnicord's discord.py extensions. Each module in ``EXTENSIONS`` has ``async def setup(bot)``
and can be loaded into any ``commands.Bot`` with ``await bot.load_extension(name)``."""

#: The extensions the standalone runner loads, in order.
EXTENSIONS: tuple[str, ...] = ("cogs.chat", "cogs.caption", "cogs.settings", "cogs.usage")
