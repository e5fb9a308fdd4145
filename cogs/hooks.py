"""What a host bot's own commands may call: erase everything Omnicord keeps about a member,
and read the data statement members see in ``/omni status``.

    from omnicord.cogs.hooks import data_statement, forget_member

    @bot.tree.command()
    async def privacy(interaction: discord.Interaction) -> None:
        removed = await forget_member(interaction.client, interaction.user.id)
        ...

Both need an Omnicord extension loaded in ``bot`` (any one: they share one runtime).
"""

from __future__ import annotations

from discord.ext import commands
from omnicord.cogs.runtime.shared import Runtime, current
from omnicord.i18n import language_of
from omnicord.store.records import Removed

__all__ = ["OmnicordNotLoaded", "Removed", "data_statement", "forget_member"]


class OmnicordNotLoaded(RuntimeError):
    """No Omnicord extension is loaded in this bot."""


async def forget_member(bot: commands.Bot | commands.AutoShardedBot, user_id: int | str
                        ) -> Removed:
    """Erase everything Omnicord keeps about a Discord user, in every server and DM, as their
    own confirmed ``/omni forget me`` does (the host asks for consent itself): the turns they
    spoke and the replies to them, their DMs, preferences, usage and cooldowns, cached media
    no other turn uses; a reply to them still under way anywhere is not stored afterwards.
    Nothing is deleted in Discord. What was erased comes back as counts."""
    user = str(user_id).strip()
    if not (user.isascii() and user.isdecimal()):
        raise ValueError(f"not a Discord user id: {user_id!r}")
    return await _runtime(bot).services.privacy.forget_member(user)


def data_statement(bot: commands.Bot | commands.AutoShardedBot, language: str = "en") -> str:
    """The few lines members read in ``/omni status``: what is kept, where, for how long,
    sent to whom, and how to delete it (Discord markdown, under 1,200 characters), in
    ``language`` (a Discord locale such as ``ja``; English by default)."""
    return _runtime(bot).services.data_statement(language=language_of(language))


def _runtime(bot: commands.Bot | commands.AutoShardedBot) -> Runtime:
    runtime = current(bot)
    if runtime is None:
        raise OmnicordNotLoaded("load an Omnicord extension (e.g. omnicord.cogs.privacy) "
                                "before calling its hooks")
    return runtime
