"""Chat: members talk to Qwen-Omni with text, voice notes, images and video; replies stream.

Triggers: a mention of the bot, a reply to one of its messages, a DM, any message in a channel
an admin opened for Omnicord, or a thread Omnicord started (``/omni thread``).
"""

from __future__ import annotations

import asyncio
import logging
import re

import discord
from discord import app_commands
from discord.ext import commands
from omnicord.cogs.access.attachments import AttachmentError, prepare_all
from omnicord.cogs.access.checks import check_access
from omnicord.cogs.access.places import guild_key, is_group, scope_for
from omnicord.cogs.delivery.friendly import friendly, log_refusal
from omnicord.cogs.delivery.streaming import (
    NO_PINGS,
    ReplyGone,
    StreamingReply,
    cancel_cleanups,
    is_gone,
)
from omnicord.cogs.delivery.voice_message import send_voice_or_file
from omnicord.cogs.delivery.waveform import waveform_from_pcm
from omnicord.cogs.runtime.inflight import STOPPED_NOTE
from omnicord.cogs.runtime.omni_group import add_commands, remove_commands
from omnicord.cogs.runtime.shared import NEEDS_CONTENT, Runtime, cog_of, release, setup_cog
from omnicord.conversation.compose import Instructions, NewMessage
from omnicord.conversation.reply import CUT_SHORT_NOTE, Reply
from omnicord.conversation.respond import Answer, Payer, ReplyOptions
from omnicord.media.ffmpeg import run_in_thread
from omnicord.media.speech import encode_speech, pcm_seconds
from omnicord.media.types import MediaTarget
from omnicord.policy.preferences import Effective
from omnicord.pseudonyms import member_tag, reveal, scope_tag

log = logging.getLogger("omnicord.chat")
THREAD_NAME = "Omnicord"


class OmnicordChat(commands.Cog):
    """Answers members in channels, threads and DMs."""

    def __init__(self, bot: commands.Bot, runtime: Runtime) -> None:
        self.bot = bot
        self.runtime = runtime

    async def cog_load(self) -> None:
        add_commands(self.bot, start_thread)

    async def cog_unload(self) -> None:
        remove_commands(self.bot, start_thread)
        cancel_cleanups()
        await release(self.bot)

    @commands.Cog.listener()
    async def on_message(self, message: discord.Message) -> None:
        work = self.runtime.inflight
        # Checked again after the await: stopping may have begun meanwhile.
        if work.accepting and await self.should_answer(message) and work.accepting:
            with work.track():
                await self.answer(message)

    async def should_answer(self, message: discord.Message) -> bool:
        """Whether a message is for Omnicord."""
        me = self.bot.user
        if message.author.bot or message.webhook_id or me is None or message.author == me:
            return False
        if message.guild is None or me in message.mentions:
            return True
        if await self._replies_to_me(message):
            return True
        if not self.runtime.reads_all_messages:
            return False  # without Message Content other messages arrive empty
        channel = message.channel
        if isinstance(channel, discord.Thread) and channel.owner_id == me.id:
            return True
        opened = channel.parent_id if isinstance(channel, discord.Thread) else channel.id
        return await self.runtime.preferences.channel_role(str(opened), "chat")

    async def _replies_to_me(self, message: discord.Message) -> bool:
        referenced = await self._referenced(message)
        return referenced is not None and referenced.author == self.bot.user

    async def _referenced(self, message: discord.Message) -> discord.Message | None:
        reference = message.reference
        if reference is None or reference.message_id is None:
            return None
        if isinstance(reference.resolved, discord.Message):
            return reference.resolved
        try:
            fetched = await message.channel.fetch_message(reference.message_id)
        except discord.HTTPException:
            return None
        reference.resolved = fetched  # the trigger check and the attachments share one fetch
        return fetched

    async def answer(self, message: discord.Message) -> None:
        """Reply to one member message; every failure becomes a short explanation."""
        try:
            await check_access(self.runtime, message.guild, message.author, message.channel)
            async with message.channel.typing():
                answer = await self._answer(message)
            # Deleted while the reply was under way: the reply goes too (the store kept no turn).
            await self.runtime.services.privacy.reply_kept(
                answer.kept, channel_id=str(message.channel.id),
                reply_ids=answer.turn.reply_message_ids)
        except ReplyGone:
            log.info("reply to %s abandoned: its message or channel is gone", message.id)
        except Exception as error:
            scope = scope_tag(scope_for(message.channel, message.author))
            log_refusal(f"reply to {message.id} in {scope}", error, member=message.author.id)
            name = error.name if isinstance(error, AttachmentError) else None
            await self._tell(message, friendly(error, attachment=name))

    async def _answer(self, message: discord.Message) -> Answer:
        runtime = self.runtime
        author = message.author
        async with runtime.admission.admit(guild_key(message.guild), author.id) as effective:
            attachments, own = await self._attachments(message)
            target = MediaTarget(effective.model)
            media = await prepare_all(runtime, attachments, target)
            sent_voice = any(a.is_voice_message() for a in attachments)
            speak = effective.speaks(member_sent_voice=sent_voice)
            streamer = StreamingReply(message.channel, message, runtime.pacer,
                                      show_text=effective.shows_text(member_sent_voice=sent_voice))
            await streamer.notify([f"{m.name}: {n}" for m in media for n in m.notices])
            delivered = False  # text and voice message both sent: the turn will be stored

            async def deliver(reply: Reply) -> list[str]:
                nonlocal delivered
                if reply.cut_short and streamer.show_text and streamer.text.strip():
                    await streamer.show(f"{streamer.text.rstrip()}\n{CUT_SHORT_NOTE}")
                else:
                    await streamer.finish()
                voice = await self._deliver_speech(message, reply, streamer, speak)
                delivered = True
                return [str(m.id) for m in [*streamer.messages, *filter(None, [voice])]]

            try:
                return await runtime.services.conversations.respond(
                    scope_for(message.channel, author), speaker_id=str(author.id),
                    new=NewMessage(author.display_name, self._text_of(message), tuple(media),
                                   source_id=str(message.id), keep_media=own),
                    options=self._options(effective, speak, message.channel),
                    on_event=streamer.on_event, target=target, deliver=deliver,
                    payer=Payer(str(author.id), guild_key(message.guild),
                                str(message.channel.id)),
                )
            except asyncio.CancelledError:
                # Cut by a restart before the voice message went out too: nothing is stored,
                # so the text already shown must not pass for a whole reply.
                if runtime.inflight.stopping and not delivered:
                    await streamer.stop(STOPPED_NOTE)
                raise

    async def _attachments(self, message: discord.Message
                           ) -> tuple[list[discord.Attachment], bool]:
        """The member's attachments, or those of the message they reply to when they have
        none; and whether they are the member's own (another member's are used for this
        answer only: never cached or kept with the turn, so nothing of them outlives their
        author's erasure)."""
        if message.attachments:
            return list(message.attachments), True
        referenced = await self._referenced(message)
        if referenced is not None and referenced.author != self.bot.user:
            return list(referenced.attachments), referenced.author == message.author
        return [], True

    def _text_of(self, message: discord.Message) -> str:
        me = self.bot.user
        text = message.content
        if me is not None:
            text = re.sub(rf"<@!?{me.id}>", "", text)
        return text.strip()

    def _options(
        self, effective: Effective, speak: bool, channel: discord.abc.Messageable
    ) -> ReplyOptions:
        return ReplyOptions(
            model=effective.model, model_name=effective.model_name,
            voice=effective.voice if speak else None, thinking=effective.thinking,
            instructions=Instructions.with_persona(effective.system_prompt,
                                                   group=is_group(channel)),
        )

    async def _deliver_speech(
        self, message: discord.Message, reply: Reply, streamer: StreamingReply, speak: bool
    ) -> discord.Message | None:
        """Send the spoken reply (or the text, when no speech came); the voice message sent."""
        pcm = reply.pcm
        sent = None
        if speak and pcm:
            audio, waveform = await asyncio.gather(
                encode_speech(pcm, "ogg"), run_in_thread(waveform_from_pcm, pcm)
            )
            try:
                sent, _ = await send_voice_or_file(message.channel, audio,
                                                   duration=pcm_seconds(pcm),
                                                   waveform=waveform, reply_to=message)
            except discord.HTTPException as error:
                if is_gone(error):
                    raise ReplyGone from error
                raise
        if not streamer.show_text and not (speak and pcm):
            await streamer.show(reply.spoken_text)  # no speech came: keep the answer
        return sent

    async def _tell(self, message: discord.Message, text: str) -> None:
        try:
            await message.channel.send(
                f"⚠️ {text}", allowed_mentions=NO_PINGS,
                reference=message.to_reference(fail_if_not_exists=False),
            )
        except discord.HTTPException:
            reveal(log, message.author.id)
            log.info("could not tell member %s about a failure", member_tag(message.author.id))


@app_commands.command(name="thread", description="Start a thread where Omnicord answers every "
                      "message")
@app_commands.describe(name="the thread's name")
async def start_thread(interaction: discord.Interaction, name: str = THREAD_NAME) -> None:
    """Open a public thread owned by the bot, so every message in it is answered."""
    channel = interaction.channel
    if not isinstance(channel, discord.TextChannel):
        await interaction.response.send_message(
            "Threads can be started in server text channels only.", ephemeral=True)
        return
    cog = cog_of(interaction, OmnicordChat)
    if isinstance(cog, OmnicordChat) and not cog.runtime.reads_all_messages:
        await interaction.response.send_message(
            NEEDS_CONTENT.format(what="A thread where every message is answered"),
            ephemeral=True)
        return
    try:
        thread = await channel.create_thread(name=name[:100] or THREAD_NAME,
                                             type=discord.ChannelType.public_thread)
    except discord.Forbidden:
        await interaction.response.send_message(
            "I am not allowed to create threads here.", ephemeral=True)
        return
    await interaction.response.send_message(
        f"Started {thread.mention}: I will answer every message there.",
        allowed_mentions=NO_PINGS)


async def setup(bot: commands.Bot) -> None:
    """Load the chat cog."""
    await setup_cog(bot, OmnicordChat)
