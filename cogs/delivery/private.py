"""A private line to the member who used a command, whether or not it was answered yet."""

from __future__ import annotations

import discord
from omnicord.cogs.delivery.split import split_message
from omnicord.cogs.delivery.streaming import NO_PINGS


async def answer_privately(interaction: discord.Interaction, text: str) -> None:
    """Send ``text`` only the member sees: as the answer, or as a follow-up to it; text over
    Discord's 2,000 characters goes in as many messages as it needs, cut between lines."""
    for piece in split_message(text) or [text]:
        if interaction.response.is_done():
            await interaction.followup.send(piece, ephemeral=True, allowed_mentions=NO_PINGS)
        else:
            await interaction.response.send_message(piece, ephemeral=True,
                                                    allowed_mentions=NO_PINGS)
