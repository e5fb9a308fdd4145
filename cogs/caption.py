"""Captions: machine-generated descriptions of voice messages and audio, for members who
cannot listen.

- Auto-caption: in channels where an admin turned it on, every voice message gets a reply
  with its caption.
- The message context menu "Caption audio" captions any message's audio or video sound.
- ``/omni caption`` captions an uploaded file.
Long captions are split across messages, or attached as a text file when very long.
"""

from __future__ import annotations

import io
import logging
from typing import Any

import discord
from discord import app_commands
from discord.ext import commands
from omnicord.cogs.utils.attachments import AttachmentError, is_audio_or_video, prepare_attachment
from omnicord.cogs.utils.errors import friendly
from omnicord.cogs.utils.omni_group import add_commands, remove_commands
from omnicord.cogs.utils.places import guild_key
from omnicord.cogs.utils.runtime import Runtime, cog_of, release, setup_cog
from omnicord.cogs.utils.split import split_message
from omnicord.cogs.utils.streaming import NO_PINGS
from omnicord.media.captions import caption_media
from omnicord.media.types import MediaTarget
from omnicord.policy.throttle import Busy
from omnicord.policy.usage import OverDailyCap

log = logging.getLogger("omnicord.caption")
LABEL = "-# 🤖 Machine-generated caption (Qwen3-Omni-Captioner)"
MAX_CAPTION_MESSAGES = 3


def caption_sends(caption: str) -> list[dict[str, Any]]:
    """Keyword arguments of each message that shows a caption: labelled pieces, or a short
    message with the caption attached as a text file when it is very long."""
    pieces = split_message(f"{LABEL}\n{caption}")
    if len(pieces) <= MAX_CAPTION_MESSAGES:
        return [{"content": piece, "allowed_mentions": NO_PINGS} for piece in pieces]
    attachment = discord.File(io.BytesIO(caption.encode()), filename="caption.txt")
    return [{"content": f"{LABEL}\nThe caption is long, so it is attached as a text file.",
             "allowed_mentions": NO_PINGS, "file": attachment}]


class Captions(commands.Cog):
    """Captions voice messages and audio with Qwen3-Omni-Captioner."""

    def __init__(self, bot: commands.Bot, runtime: Runtime) -> None:
        self.bot = bot
        self.runtime = runtime
        self.menu = app_commands.ContextMenu(name="Caption audio", callback=self.caption_menu)

    async def cog_load(self) -> None:
        self.bot.tree.add_command(self.menu)
        add_commands(self.bot, caption_command)

    async def cog_unload(self) -> None:
        self.bot.tree.remove_command(self.menu.name, type=self.menu.type)
        remove_commands(self.bot, caption_command)
        await release(self.bot)

    async def caption(
        self, attachment: discord.Attachment, *, user: discord.abc.User,
        guild: discord.Guild | None, channel_id: int | None,
    ) -> str:
        """The caption of one attachment's sound, its usage counted for ``user``."""
        captioner = self.runtime.services.captioner
        media = await prepare_attachment(
            self.runtime, attachment, MediaTarget(captioner.model, purpose="caption")
        )
        caption = await caption_media(captioner, media)
        if caption.usage is not None:
            await self.runtime.usage.record(
                user_id=str(user.id), model=captioner.model.name,
                prompt_tokens=caption.usage.prompt_tokens,
                completion_tokens=caption.usage.completion_tokens,
                guild_id=guild_key(guild), channel_id=str(channel_id or ""),
            )
        return caption.text or "(no caption)"

    @commands.Cog.listener()
    async def on_message(self, message: discord.Message) -> None:
        if message.author.bot or message.webhook_id or not message.flags.voice:
            return
        if message.guild is None or not await self.runtime.preferences.channel_role(
            str(message.channel.id), "auto_caption"
        ):
            return
        voice = next((a for a in message.attachments if a.is_voice_message()), None)
        if voice is not None:
            await self._auto_caption(message, voice)

    async def _auto_caption(self, message: discord.Message, voice: discord.Attachment) -> None:
        """Caption a voice message nobody asked about: through the same gate and ledger as any
        request; refusals and failures are logged, not shown."""
        try:
            async with self.runtime.admission.admit(guild_key(message.guild), message.author.id,
                                          purpose="caption"):
                text = await self.caption(voice, user=message.author, guild=message.guild,
                                          channel_id=message.channel.id)
        except (Busy, OverDailyCap) as refusal:
            log.info("auto-caption of %s not made: %s", message.id, refusal)
            return
        except Exception:
            log.warning("auto-caption of %s failed", message.id, exc_info=True)
            return
        await self._post(message, text)

    async def _post(self, message: discord.Message, caption: str) -> None:
        first, *rest = caption_sends(caption)
        await message.channel.send(**first,
                                   reference=message.to_reference(fail_if_not_exists=False))
        for send in rest:
            await message.channel.send(**send)

    async def caption_menu(self, interaction: discord.Interaction, message: discord.Message):
        """Context menu: caption a message's audio or video sound."""
        target = next((a for a in message.attachments if is_audio_or_video(a)), None)
        if target is None:
            await interaction.response.send_message(
                "That message has no audio or video to caption.", ephemeral=True)
            return
        await self.respond(interaction, target)

    async def respond(self, interaction: discord.Interaction, attachment: discord.Attachment):
        """Caption ``attachment`` for an interaction, answering with a follow-up."""
        await interaction.response.defer(thinking=True)
        runtime, user = self.runtime, interaction.user
        try:
            async with runtime.admission.admit(guild_key(interaction.guild), user.id,
                                               purpose="caption"):
                text = await self.caption(attachment, user=user, guild=interaction.guild,
                                          channel_id=interaction.channel_id)
        except Exception as error:
            name = error.name if isinstance(error, AttachmentError) else None
            await interaction.followup.send(f"⚠️ {friendly(error, attachment=name)}",
                                            allowed_mentions=NO_PINGS)
            return
        for send in caption_sends(text):
            await interaction.followup.send(**send)


@app_commands.command(name="caption", description="Caption an audio or video file's sound")
@app_commands.describe(file="the audio or video file")
async def caption_command(interaction: discord.Interaction, file: discord.Attachment) -> None:
    """``/omni caption``."""
    cog = cog_of(interaction, "Captions")
    if not isinstance(cog, Captions):
        await interaction.response.send_message("Captions are not available.", ephemeral=True)
        return
    if not is_audio_or_video(file):
        await interaction.response.send_message(
            f"**{file.filename}** is not audio or video.", ephemeral=True)
        return
    await cog.respond(interaction, file)


async def setup(bot: commands.Bot) -> None:
    """Load the captions cog."""
    await setup_cog(bot, Captions)
