"""Captions and transcripts of voice messages and audio, for members who cannot listen:
machine-generated descriptions (Qwen3-Omni-Captioner) and the words said (the chat model).

- Auto-caption: in channels where an admin turned it on, every voice message gets a reply
  with its transcript, its description, or both (the channel's mode).
- The message context menus "Caption audio" and "Transcribe audio" work on any message's
  audio or video sound.
- ``/omni caption`` and ``/omni transcribe`` work on an uploaded file.
Transcripts are translated into the language asked for (the request's, else the member's,
else the server's; auto-captions use the server's). Long results are split across messages,
or attached as a text file when very long.
"""

from __future__ import annotations

import asyncio
import contextlib
import io
import logging
import re
from collections.abc import Awaitable, Callable
from typing import Any

import discord
from discord import app_commands
from discord.ext import commands
from omnicord.cogs.access.attachments import AttachmentError, is_audio_or_video, prepare_attachment
from omnicord.cogs.access.checks import check_access, interaction_refused
from omnicord.cogs.access.places import guild_key, scope_for
from omnicord.cogs.delivery.friendly import friendly, log_refusal
from omnicord.cogs.delivery.split import split_message
from omnicord.cogs.delivery.streaming import NO_PINGS
from omnicord.cogs.runtime.inflight import STOPPED_NOTE
from omnicord.cogs.runtime.languages import language_autocomplete
from omnicord.cogs.runtime.locale import member_language, place_language, remember_language
from omnicord.cogs.runtime.omni_group import add_commands, remove_commands, remove_own
from omnicord.cogs.runtime.shared import Runtime, cog_of, release, setup_cog
from omnicord.conversation.captioning import Asked, describe, transcribe
from omnicord.conversation.respond import Payer
from omnicord.conversation.transcribe import Transcription
from omnicord.errors import OmnicordError
from omnicord.i18n import DEFAULT_LANGUAGE, t
from omnicord.media.types import MediaTarget
from omnicord.policy.languages import check_language, translation_language
from omnicord.policy.preferences import Effective
from omnicord.store.records import CaptionMode

log = logging.getLogger("omnicord.caption")
MAX_CAPTION_MESSAGES = 3


def caption_label(language: str) -> str:
    """The line that opens a caption: it is machine-made, and by which model."""
    return t(language, "captions.caption_label")


def labelled_sends(shown: str, *, noun: str = "caption",
                   language: str = DEFAULT_LANGUAGE) -> list[dict[str, Any]]:
    """Keyword arguments of each message that shows ``shown`` (which opens with its label):
    the pieces, or the label and the text attached as ``<noun>.txt`` when it is very long
    (said in ``language``)."""
    pieces = split_message(shown)
    if len(pieces) <= MAX_CAPTION_MESSAGES:
        return [{"content": piece, "allowed_mentions": NO_PINGS} for piece in pieces]
    label = shown.partition("\n")[0]
    plain = re.sub(r"^-# ", "", shown, flags=re.MULTILINE)
    attachment = discord.File(io.BytesIO(plain.encode()), filename=f"{noun}.txt")
    note = (t(language, "captions.transcript_attached") if noun == "transcript"
            else t(language, "captions.caption_attached"))
    return [{"content": f"{label}\n{note}", "allowed_mentions": NO_PINGS, "file": attachment}]


def caption_sends(caption: str, language: str = DEFAULT_LANGUAGE) -> list[dict[str, Any]]:
    """The messages that show a caption, labelled in ``language``."""
    return labelled_sends(f"{caption_label(language)}\n{caption}", language=language)


def transcript_text(transcription: Transcription, language: str = DEFAULT_LANGUAGE) -> str:
    """A transcript as posted: labelled (in ``language``), with its translation under it, and
    the line saying why it stopped early if it did."""
    label = t(language, "captions.transcript_label", model=transcription.model)
    shown = f"{label}\n{transcription.text}"
    if transcription.translation:
        heading = t(language, "captions.translation_heading", language=transcription.language)
        shown += f"\n\n**{heading}**\n{transcription.translation}"
    if transcription.stopped:
        shown += f"\n\n{transcription.stopped}"
    return shown


def asked(channel: discord.abc.Snowflake | None, user: discord.abc.User,
          guild: discord.Guild | None) -> Asked:
    """Where a caption or transcript was asked for, and whom it counts against."""
    scope = scope_for(channel, user) if guild is not None else f"dm:{user.id}"
    return Asked(scope=scope, payer=Payer(
        user_id=str(user.id), guild_id=guild_key(guild),
        channel_id=str(channel.id) if channel is not None else ""))


def half_failed(message: discord.Message, noun: str, error: Exception,
                language: str = DEFAULT_LANGUAGE) -> str:
    """The line standing in for the half of a ``both`` auto-caption that failed (logged), in
    the channel's ``language``."""
    log_refusal(f"{noun} of auto-caption {message.id} in channel:{message.channel.id}", error,
                member=message.author.id)
    name = error.name if isinstance(error, AttachmentError) else None
    reason = friendly(error, attachment=name, language=language)
    if noun == "transcript":
        return t(language, "captions.no_transcript_this_time", reason=reason)
    return t(language, "captions.no_description_this_time", reason=reason)


class OmnicordCaptions(commands.Cog):
    """Captions voice messages and audio with Qwen3-Omni-Captioner."""

    def __init__(self, bot: commands.Bot, runtime: Runtime) -> None:
        self.bot = bot
        self.runtime = runtime
        self.menu = app_commands.ContextMenu(name="Caption audio", callback=self.caption_menu)
        self.transcribe_item = app_commands.ContextMenu(name="Transcribe audio",
                                                        callback=self.transcribe_menu)

    async def cog_load(self) -> None:
        self.bot.tree.add_command(self.menu)
        self.bot.tree.add_command(self.transcribe_item)
        add_commands(self.bot, caption_command, transcribe_command)

    async def cog_unload(self) -> None:
        remove_own(self.bot, self.menu)  # never a menu of the same name the bot put there
        remove_own(self.bot, self.transcribe_item)
        remove_commands(self.bot, caption_command, transcribe_command)
        await release(self.bot)

    async def caption(
        self, attachment: discord.Attachment, *, user: discord.abc.User,
        channel: discord.abc.Snowflake | None, guild: discord.Guild | None,
        language: str = DEFAULT_LANGUAGE,
    ) -> str:
        """The caption of one attachment's sound, its usage counted for ``user`` (``language``
        says that none came)."""
        captioner = self.runtime.services.captioner
        media = await prepare_attachment(
            self.runtime, attachment, MediaTarget(captioner.model, purpose="caption")
        )
        caption = await describe(captioner, media, ledger=self.runtime.usage,
                                 asked=asked(channel, user, guild))
        return caption.text or t(language, "captions.no_caption")

    async def transcribe(
        self, attachment: discord.Attachment, *, user: discord.abc.User,
        channel: discord.abc.Snowflake | None, guild: discord.Guild | None,
        effective: Effective, language: str | None, labels: str = DEFAULT_LANGUAGE,
    ) -> Transcription:
        """The transcript of one attachment's sound with the member's chat model (translated
        into ``language`` if given; Omnicord's own words in it in ``labels``), its usage counted
        for ``user`` part by part, each part within their daily cap."""
        target = MediaTarget(effective.model, purpose="transcript")
        media = await prepare_attachment(self.runtime, attachment, target)
        return await transcribe(self.runtime.services.omni, effective.model_name, media,
                                language=language, ledger=self.runtime.usage,
                                asked=asked(channel, user, guild),
                                cap=effective.daily_token_cap, labels=labels)

    async def language_for(self, guild: str, user_id: str | None,
                           requested: str | None = None) -> str | None:
        """The translation language: the request's, else the member's (when ``user_id``),
        else the server's; None for no translation."""
        prefs = self.runtime.preferences
        member = (await prefs.member(guild, user_id)).caption_language if user_id else None
        server = (await prefs.guild(guild)).caption_language if guild else None
        return translation_language(requested, member, server)

    @commands.Cog.listener()
    async def on_message(self, message: discord.Message) -> None:
        if message.author.bot or message.webhook_id or not message.flags.voice:
            return
        if not self.runtime.reads_all_messages or self.runtime.inflight.stopping:
            return  # without Message Content a voice message arrives without its file
        if message.guild is None or not await self.runtime.preferences.channel_role(
            str(message.channel.id), "auto_caption"
        ):
            return
        voice = next((a for a in message.attachments if a.is_voice_message()), None)
        if voice is not None and self.runtime.inflight.accepting:
            with self.runtime.inflight.track():
                await self._auto_caption(message, voice)

    async def _auto_caption(self, message: discord.Message, voice: discord.Attachment) -> None:
        """Transcribe or caption (the channel's mode) a voice message nobody asked about:
        through the same gate and ledger as any request; refusals and failures are logged, not
        shown (except, in ``both`` mode, one line for a half that failed beside the other)."""
        mode = await self.runtime.preferences.caption_mode(str(message.channel.id))
        language = await place_language(self.runtime.preferences, message.guild,  # all see it
                                        message.author.id)
        try:
            await check_access(self.runtime, message.guild, message.author, message.channel)
            async with self.runtime.admission.admit(guild_key(message.guild), message.author.id,
                                          purpose="caption") as effective:
                shown = await self._auto_text(message, voice, mode, effective, language)
        except OmnicordError as refusal:
            log_refusal(f"auto-caption of {message.id} in channel:{message.channel.id}", refusal,
                        member=message.author.id)
            return
        except Exception:
            log.exception("auto-caption of %s failed", message.id)
            return
        await self._post(message, shown, language,
                         noun="caption" if mode is CaptionMode.DESCRIPTION else "transcript")

    async def _auto_text(self, message: discord.Message, voice: discord.Attachment,
                         mode: CaptionMode, effective: Effective, language: str) -> str:
        """What an auto-caption posts: the transcript (translated into the server's language),
        the caption, or the one above the other. In ``both`` each stands alone: one that fails
        is one line and the other is posted all the same; if all fail, the first failure is
        raised."""
        halves: list[tuple[str, Callable[[], Awaitable[str]]]] = []
        if mode is not CaptionMode.DESCRIPTION:
            halves.append(("transcript", lambda: self._auto_transcript(message, voice, effective,
                                                                       language)))
        if mode is not CaptionMode.TRANSCRIPT:
            halves.append(("description", lambda: self._auto_description(message, voice,
                                                                         language)))
        made: list[str | Exception] = []
        for _, make in halves:
            try:
                made.append(await make())
            except Exception as error:  # the other half still goes out
                made.append(error)
        failures = [item for item in made if isinstance(item, Exception)]
        if len(failures) == len(made):
            raise failures[0]
        return "\n\n".join(
            item if isinstance(item, str) else half_failed(message, noun, item, language)
            for (noun, _), item in zip(halves, made, strict=True))

    async def _auto_transcript(self, message: discord.Message, voice: discord.Attachment,
                               effective: Effective, language: str) -> str:
        into = await self.language_for(guild_key(message.guild), None)
        transcription = await self.transcribe(
            voice, user=message.author, channel=message.channel, guild=message.guild,
            effective=effective, language=into, labels=language)
        return transcript_text(transcription, language)

    async def _auto_description(self, message: discord.Message,
                                voice: discord.Attachment, language: str) -> str:
        caption = await self.caption(voice, user=message.author, channel=message.channel,
                                     guild=message.guild, language=language)
        return f"{caption_label(language)}\n{caption}"

    async def _post(self, message: discord.Message, shown: str, language: str, *,
                    noun: str) -> None:
        """Post an auto-caption as replies to the voice message, remembered (in memory) so
        they go if it is deleted."""
        first, *rest = labelled_sends(shown, noun=noun, language=language)
        posted = [await message.channel.send(
            **first, reference=message.to_reference(fail_if_not_exists=False))]
        for send in rest:
            posted.append(await message.channel.send(**send))
        await self.runtime.services.privacy.captions_posted(
            str(message.id), str(message.channel.id), [str(m.id) for m in posted])

    async def caption_menu(self, interaction: discord.Interaction, message: discord.Message):
        """Context menu: caption a message's audio or video sound."""
        await self._menu(interaction, message, transcript=False)

    async def transcribe_menu(self, interaction: discord.Interaction, message: discord.Message):
        """Context menu: write down the words of a message's audio or video sound."""
        await self._menu(interaction, message, transcript=True)

    async def _menu(self, interaction: discord.Interaction, message: discord.Message, *,
                    transcript: bool) -> None:
        await remember_language(self.runtime.preferences, interaction)  # as /omni does
        target = next((a for a in message.attachments if is_audio_or_video(a)), None)
        if target is None:
            language = member_language(interaction)
            await interaction.response.send_message(
                t(language, "captions.nothing_to_transcribe") if transcript
                else t(language, "captions.nothing_to_caption"), ephemeral=True)
            return
        await self.respond(interaction, target, transcript=transcript)

    async def respond(self, interaction: discord.Interaction, attachment: discord.Attachment,
                      *, transcript: bool = False, language: str | None = None):
        """Caption (or transcribe, translating into ``language`` or the member's or server's
        choice) ``attachment`` for an interaction, answering with a follow-up."""
        if self.runtime.inflight.stopping:
            await interaction.response.send_message(
                t(member_language(interaction), "captions.restarting"), ephemeral=True)
            return
        if await interaction_refused(self.runtime, interaction):
            return
        with self.runtime.inflight.track():
            await self._respond(interaction, attachment, transcript=transcript,
                                language=language)

    async def _respond(self, interaction: discord.Interaction, attachment: discord.Attachment,
                       *, transcript: bool, language: str | None) -> None:
        await interaction.response.defer(thinking=True)
        runtime, user = self.runtime, interaction.user
        said = member_language(interaction)  # a reply to the member who asked
        try:
            async with runtime.admission.admit(guild_key(interaction.guild), user.id,
                                               purpose="transcript" if transcript
                                               else "caption") as effective:
                if transcript:
                    sends = await self._transcript_sends(interaction, attachment, effective,
                                                         language, said)
                else:
                    sends = caption_sends(await self.caption(
                        attachment, user=user, channel=interaction.channel,
                        guild=interaction.guild, language=said), said)
        except asyncio.CancelledError:
            if runtime.inflight.stopping:  # cut by a restart
                with contextlib.suppress(discord.HTTPException):
                    await interaction.followup.send(STOPPED_NOTE.render(said),
                                                    allowed_mentions=NO_PINGS)
            raise
        except Exception as error:
            log_refusal("transcript" if transcript else "caption", error, member=user.id)
            name = error.name if isinstance(error, AttachmentError) else None
            await interaction.followup.send(
                f"⚠️ {friendly(error, attachment=name, language=said)}",
                allowed_mentions=NO_PINGS)
            return
        for send in sends:
            await interaction.followup.send(**send)

    async def _transcript_sends(
        self, interaction: discord.Interaction, attachment: discord.Attachment,
        effective: Effective, language: str | None, said: str,
    ) -> list[dict[str, Any]]:
        """The follow-ups showing an attachment's transcript for the member who asked
        (labelled in ``said``, their language)."""
        chosen = await self.language_for(guild_key(interaction.guild),
                                         str(interaction.user.id), language)
        transcription = await self.transcribe(
            attachment, user=interaction.user, channel=interaction.channel,
            guild=interaction.guild, effective=effective, language=chosen, labels=said)
        return labelled_sends(transcript_text(transcription, said), noun="transcript",
                              language=said)


@app_commands.command(name="caption", description="Caption an audio or video file's sound")
@app_commands.describe(file="the audio or video file")
async def caption_command(interaction: discord.Interaction, file: discord.Attachment) -> None:
    """``/omni caption``."""
    cog = cog_of(interaction, OmnicordCaptions)
    if not isinstance(cog, OmnicordCaptions):
        await interaction.response.send_message(
            t(member_language(interaction), "captions.captions_unavailable"), ephemeral=True)
        return
    if not is_audio_or_video(file):
        await interaction.response.send_message(
            t(member_language(interaction), "captions.not_audio_or_video", name=file.filename),
            ephemeral=True)
        return
    await cog.respond(interaction, file)


@app_commands.command(name="transcribe",
                      description="Write down the words of an audio or video file")
@app_commands.describe(file="the audio or video file",
                       language="also translate into this language (none: no translation)")
@app_commands.autocomplete(language=language_autocomplete)
async def transcribe_command(interaction: discord.Interaction, file: discord.Attachment,
                             language: str | None = None) -> None:
    """``/omni transcribe``."""
    cog = cog_of(interaction, OmnicordCaptions)
    if not isinstance(cog, OmnicordCaptions):
        await interaction.response.send_message(
            t(member_language(interaction), "captions.transcripts_unavailable"), ephemeral=True)
        return
    if not is_audio_or_video(file):
        await interaction.response.send_message(
            t(member_language(interaction), "captions.not_audio_or_video", name=file.filename),
            ephemeral=True)
        return
    requested = check_language(language) if language is not None else None
    await cog.respond(interaction, file, transcript=True, language=requested)


async def setup(bot: commands.Bot) -> None:
    """Load the captions cog."""
    await setup_cog(bot, OmnicordCaptions)
