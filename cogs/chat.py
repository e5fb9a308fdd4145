"""Chat: members talk to Qwen-Omni with text, voice notes, images and video; replies stream.

Triggers: a mention of the bot, a reply to one of its messages, a DM, any message in a channel
an admin opened for Omnicord, or a thread Omnicord started (``/omni thread``).

Conversations: in an ordinary channel each mention starts a reply chain of its own and replies
continue it (``omnicord.conversation.chains``); chat channels, Omnicord's threads and DMs keep
one whole history. An admin may choose either mode per channel or thread.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
from datetime import timedelta

import discord
from discord import app_commands
from discord.ext import commands
from omnicord.cogs.access.attachments import AttachmentError, prepare_all
from omnicord.cogs.access.chains import ReplyWalk, link_of
from omnicord.cogs.access.checks import check_access
from omnicord.cogs.access.places import guild_key, is_group, place_of, scope_for
from omnicord.cogs.delivery.controls import (
    DYNAMIC_ITEMS,
    NOT_ALLOWED,
    REGENERATE,
    STOP,
    Redo,
    RepliesUnderWay,
    UnderWay,
    controls,
    may_control,
    remove_controls,
)
from omnicord.cogs.delivery.friendly import friendly, log_refusal
from omnicord.cogs.delivery.private import answer_privately
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
from omnicord.cogs.runtime.locale import member_language, place_language
from omnicord.cogs.runtime.omni_group import add_commands, remove_commands
from omnicord.cogs.runtime.shared import Runtime, cog_of, release, setup_cog
from omnicord.conversation.chains import find_chain
from omnicord.conversation.compose import Instructions, NewMessage
from omnicord.conversation.reply import CUT_SHORT_NOTE, STOPPED_BY_MEMBER_NOTE, Reply
from omnicord.conversation.respond import NOT_NEWEST, Answer, Payer, ReplyOptions
from omnicord.i18n import DEFAULT_LANGUAGE, Text, t, text
from omnicord.media.ffmpeg import run_in_thread
from omnicord.media.speech import encode_speech, pcm_seconds
from omnicord.media.types import MediaTarget, Notice
from omnicord.policy.preferences import Effective
from omnicord.pseudonyms import member_tag, reveal, scope_tag
from omnicord.store.records import ConversationMode, Kept, Removed

log = logging.getLogger("omnicord.chat")
THREAD_NAME = "Omnicord"
#: Refusals of a press of Stop or Regenerate, in the presser's language.
NO_LONGER_WRITTEN = text("chat.no_longer_written")
NO_LONGER_KEPT = text("chat.no_longer_kept")
QUESTION_GONE = text("chat.question_gone")
ALREADY_WRITING = text("chat.already_writing")
RESTARTING = text("chat.restarting")
#: Seconds an edited question waits for further edits before it is answered again: an edit
#: storm gets one answer, to its last words.
EDIT_SETTLE_SECONDS = 0.5


class OmnicordChat(commands.Cog):
    """Answers members in channels, threads and DMs."""

    def __init__(self, bot: commands.Bot, runtime: Runtime) -> None:
        self.bot = bot
        self.runtime = runtime
        self.under_way = RepliesUnderWay()
        self._edits: dict[int, _Edits] = {}

    async def cog_load(self) -> None:
        add_commands(self.bot, start_thread)
        self.bot.add_dynamic_items(*DYNAMIC_ITEMS)

    async def cog_unload(self) -> None:
        self.bot.remove_dynamic_items(*DYNAMIC_ITEMS)
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

    async def answer(self, message: discord.Message, redo: Redo | None = None,
                     work: UnderWay | None = None) -> None:
        """Reply to one member message (or ``redo`` the answer to it); every failure becomes a
        short explanation. ``work`` notes the reply under way (one is begun if not given)."""
        own = work is None
        work = work or self.under_way.begin(message.id, message.author.id)
        language = DEFAULT_LANGUAGE  # the channel's, once known: what everyone there reads
        try:
            language = await place_language(self.runtime.preferences, message.guild,
                                            message.author.id)
            await check_access(self.runtime, message.guild, message.author, message.channel)
            async with message.channel.typing():
                answer = await self._answer(message, language, redo, work)
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
            if redo is not None and redo.tell is not None:  # only the presser sees it
                await redo.tell(f"⚠️ {friendly(error, attachment=name, language=redo.language)}")
            else:
                await self._tell(message, friendly(error, attachment=name, language=language))
        finally:
            if own:
                self.under_way.end(message.id, work)

    async def _answer(self, message: discord.Message, language: str,
                      redo: Redo | None = None, work: UnderWay | None = None) -> Answer:
        runtime = self.runtime
        author = message.author
        work = work or UnderWay(author.id, None)
        async with runtime.admission.admit(guild_key(message.guild), author.id,
                                           place=place_of(message.channel)) as effective:
            if redo is not None and redo.scope is not None:
                scope = redo.scope  # the conversation the regenerated turn is stored in
            else:
                scope = await self._conversation(message, effective)
            attachments, own = await self._attachments(message)
            target = MediaTarget(effective.model)
            media = await prepare_all(runtime, attachments, target)
            sent_voice = any(a.is_voice_message() for a in attachments)
            speak = effective.speaks(member_sent_voice=sent_voice)
            show_text = effective.shows_text(member_sent_voice=sent_voice)
            # A voice-only reply has no buttons: a voice message carries its audio alone.
            streamer = StreamingReply(message.channel, message, runtime.pacer,
                                      show_text=show_text,
                                      view=controls(STOP, message.id, language)
                                      if show_text else None)
            work.streamer = streamer
            if redo is not None:
                await self._take_over(message, redo, streamer)
            await streamer.notify([f"{m.name}: {_in(language, n)}" for m in media
                                   for n in m.notices])
            delivered = False  # text and voice message both sent: the turn will be stored

            async def deliver(reply: Reply) -> list[str]:
                nonlocal delivered
                if streamer.show_text:  # optimistic: taken off again if the turn is not kept
                    streamer.then_show(controls(REGENERATE, message.id, language))
                if reply.stopped and streamer.show_text:
                    await streamer.show(f"{streamer.text.rstrip()}\n"
                                        f"{STOPPED_BY_MEMBER_NOTE.render(language)}")
                elif reply.cut_short and streamer.show_text and streamer.text.strip():
                    await streamer.show(f"{streamer.text.rstrip()}\n"
                                        f"{CUT_SHORT_NOTE.render(language)}")
                else:
                    await streamer.finish()
                if not reply.stopped:  # a stopped reply says no more, out loud either
                    work.voice = await self._deliver_speech(message, reply, streamer, speak)
                delivered = True
                return [str(m.id) for m in [*streamer.messages, *filter(None, [work.voice])]]

            try:
                answer = await runtime.services.conversations.respond(
                    scope, speaker_id=str(author.id),
                    new=NewMessage(author.display_name, self._text_of(message), tuple(media),
                                   source_id=str(message.id), keep_media=own),
                    options=self._options(effective, speak, message.channel, language),
                    on_event=streamer.on_event, target=target, deliver=deliver,
                    payer=Payer(str(author.id), guild_key(message.guild),
                                str(message.channel.id)),
                    stop=work.stop, replaces=redo.replaces if redo is not None else None,
                )
            except asyncio.CancelledError:
                # Cut by a restart before the voice message went out too: nothing is stored,
                # so the text already shown must not pass for a whole reply.
                if runtime.inflight.stopping and not delivered:
                    await streamer.stop(STOPPED_NOTE.render(language))
                raise
            except Exception:
                await remove_controls(streamer.messages[0] if streamer.messages else None)
                raise
            await self._controls_after(message, answer, streamer, redo)
            return answer

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
        self, effective: Effective, speak: bool, channel: discord.abc.Messageable,
        language: str,
    ) -> ReplyOptions:
        return ReplyOptions(
            model=effective.model, model_name=effective.model_name,
            voice=effective.voice if speak else None, thinking=effective.thinking,
            instructions=Instructions.with_persona(effective.system_prompt,
                                                   group=is_group(channel), language=language),
        )

    async def _deliver_speech(
        self, message: discord.Message, reply: Reply, streamer: StreamingReply, speak: bool
    ) -> discord.Message | None:
        """Send the spoken reply (or the text, when no speech came); the voice message sent."""
        pcm = reply.pcm
        sent = None
        if speak and pcm:
            audio, waveform = await asyncio.gather(
                encode_speech(pcm, "ogg", rate=reply.speech_rate),
                run_in_thread(waveform_from_pcm, pcm)
            )
            try:
                sent, _ = await send_voice_or_file(message.channel, audio,
                                                   duration=pcm_seconds(pcm, reply.speech_rate),
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

    # --- Stop, Regenerate, and answers that follow an edited question -----------------------

    async def _take_over(self, message: discord.Message, redo: Redo,
                         streamer: StreamingReply) -> None:
        """Before a redone answer streams: its text goes into the old reply's text message
        (Stop on it now), and the old reply's other messages (continuations, its voice
        message) are deleted."""
        channel = message.channel
        ids = list(redo.reply_ids)
        reuse = redo.reuse
        if reuse is None and ids and streamer.show_text:
            with contextlib.suppress(discord.HTTPException):
                found = await channel.fetch_message(ids[0])
                if found.author == self.bot.user and not found.flags.voice \
                        and not found.attachments:
                    reuse = found
        if reuse is not None and streamer.show_text:
            with contextlib.suppress(ReplyGone):
                await streamer.take_over(reuse)
        kept = {m.id for m in streamer.messages}
        for message_id in ids:
            if message_id not in kept:
                with contextlib.suppress(discord.HTTPException):
                    await self._message(channel, message_id).delete()

    async def _controls_after(self, message: discord.Message, answer: Answer,
                              streamer: StreamingReply, redo: Redo | None) -> None:
        """Once a reply's turn is stored or not: a reply not kept loses its buttons; a kept
        one is now the conversation's newest, so the one before loses Regenerate."""
        first = streamer.messages[0] if streamer.messages else None
        if answer.kept is not Kept.STORED:
            await remove_controls(first)
            return
        previous = answer.previous
        if previous is None or not previous.reply_message_ids or (redo and redo.regenerate):
            return
        shown = previous.reply_message_ids[0]
        if first is None or str(first.id) != shown:
            await remove_controls(self._message(message.channel, int(shown)))

    def _message(self, channel: discord.abc.Messageable, message_id: int
                 ) -> discord.PartialMessage:
        return self.bot.get_partial_messageable(getattr(channel, "id", 0)).get_partial_message(
            message_id)

    async def control_pressed(self, interaction: discord.Interaction, action: str,
                              message_id: int) -> None:
        """A press of Stop or Regenerate under the reply to ``message_id``."""
        if action == STOP:
            await self._stop_pressed(interaction, message_id)
        else:
            await self._regenerate_pressed(interaction, message_id)

    async def _stop_pressed(self, interaction: discord.Interaction, message_id: int) -> None:
        work = self.under_way.get(message_id)
        if work is None:  # finished meanwhile, or written by a process since restarted
            await _refuse(interaction, NO_LONGER_WRITTEN)
            await remove_controls(interaction.message)
            return
        if not may_control(interaction, work.asker_id):
            await _refuse(interaction, NOT_ALLOWED)
            return
        work.stop.set()
        await interaction.response.defer()  # the reply's own last edit shows it stopped

    async def _regenerate_pressed(self, interaction: discord.Interaction,
                                  message_id: int) -> None:
        store = self.runtime.services.store
        found = await store.turn_for_message(str(message_id))
        if found is None:
            await _refuse(interaction, NO_LONGER_KEPT)
            await remove_controls(interaction.message)
            return
        scope, turn = found
        if not may_control(interaction, turn.speaker_id):
            await _refuse(interaction, NOT_ALLOWED)
            return
        if self.under_way.get(message_id) is not None:
            await _refuse(interaction, ALREADY_WRITING)
            return
        newest = await store.history(scope, limit=1)
        if not newest or newest[-1].source_message_id != str(message_id):
            await _refuse(interaction, NOT_NEWEST)
            await remove_controls(interaction.message)
            return
        if not self.runtime.inflight.accepting:
            await _refuse(interaction, RESTARTING)
            return
        fetch = getattr(interaction.channel, "fetch_message", None)
        try:
            question = await fetch(message_id) if fetch is not None else None
        except discord.NotFound:
            question = None
        if not isinstance(question, discord.Message):
            await _refuse(interaction, QUESTION_GONE)
            await remove_controls(interaction.message)
            return
        await interaction.response.defer()

        async def tell(text: str) -> None:
            with contextlib.suppress(discord.HTTPException):
                await interaction.followup.send(text, ephemeral=True, allowed_mentions=NO_PINGS)

        redo = Redo(str(message_id), tuple(int(i) for i in turn.reply_message_ids),
                    reuse=interaction.message, scope=scope, regenerate=True, tell=tell,
                    language=member_language(interaction))
        with self.runtime.inflight.track():
            await self.answer(question, redo)

    @commands.Cog.listener()
    async def on_omnicord_question_edited(self, payload: discord.RawMessageUpdateEvent,
                                          removed: Removed) -> None:
        """After the privacy cog erased an edited message's turn: within OMNICORD_EDIT_WINDOW,
        the question is answered again (once, to its last words, however many edits came
        together) where the old answer was shown; after it, the answer loses its buttons."""
        message_id = payload.message_id
        window = self.runtime.settings.edit_window
        age = discord.utils.utcnow() - discord.utils.snowflake_time(message_id)
        channel = self.bot.get_partial_messageable(payload.channel_id)
        shown = [int(i) for i in removed.orphaned_replies]
        if window <= 0 or age > timedelta(seconds=window):
            if shown:
                await remove_controls(channel.get_partial_message(shown[0]))
            return
        edits = self._edits.setdefault(message_id, _Edits())
        edits.count += 1
        mine = edits.count
        edits.note(shown)
        work = self.under_way.get(message_id)
        if work is not None:  # the answer to the old words is dropped (the store keeps it out)
            edits.answering = True
            if work.task is not None and work.task is not asyncio.current_task():
                work.task.cancel()
            await work.done.wait()
            edits.note(work.shown())
        await asyncio.sleep(EDIT_SETTLE_SECONDS)
        if edits.count != mine:
            return  # a later edit answers (with the messages gathered here)
        del self._edits[message_id]
        if (edits.shown or edits.answering) and self.runtime.inflight.accepting:
            await self._answer_edited(channel, message_id, edits.shown)

    async def _answer_edited(self, channel: discord.PartialMessageable, message_id: int,
                             shown: list[int]) -> None:
        work = self.under_way.begin(message_id, 0)  # noted before fetching: a later edit
        try:                                         # finds it and takes over
            try:
                question = await channel.fetch_message(message_id)
            except discord.HTTPException:
                return  # deleted meanwhile: the privacy cog deletes the replies
            work.asker_id = question.author.id
            with self.runtime.inflight.track():
                await self.answer(question, Redo(str(message_id), tuple(shown)), work)
        finally:
            self.under_way.end(message_id, work)

    async def _conversation(self, message: discord.Message, effective: Effective) -> str:
        """The conversation a message joins: its reply chain, or the place's whole history."""
        channel, me = message.channel, self.bot.user
        mode = effective.conversation or await self._default_mode(channel)
        if message.guild is None or me is None or mode is ConversationMode.CHANNEL:
            return scope_for(channel, message.author)
        walk = ReplyWalk(self.bot, message)
        return await find_chain(self.runtime.services.store, str(channel.id),
                                link_of(message, me), walk.parent_of)

    async def _default_mode(self, channel: discord.abc.Messageable) -> ConversationMode:
        """Chat channels (and their threads) and Omnicord's threads keep one history; other
        places keep a conversation per reply chain."""
        me, place = self.bot.user, place_of(channel)
        if isinstance(channel, discord.Thread) and me is not None and channel.owner_id == me.id:
            return ConversationMode.CHANNEL
        opened = place.parent_id or place.channel_id if place is not None else None
        if opened is not None and await self.runtime.preferences.channel_role(opened, "chat"):
            return ConversationMode.CHANNEL
        return ConversationMode.REPLY_CHAIN


def _in(language: str, said: str) -> str:
    """A media notice in ``language`` (one the core wrote as plain English stays English)."""
    return said.render(language) if isinstance(said, Notice) else said


async def _refuse(interaction: discord.Interaction, refusal: Text) -> None:
    """One line only the presser sees, in their language."""
    await answer_privately(interaction, refusal.render(member_language(interaction)))


class _Edits:
    """The edits of one question waiting to be answered, and the reply messages gathered."""

    def __init__(self) -> None:
        self.count = 0
        self.shown: list[int] = []
        self.answering = False  # an answer was under way (maybe nothing shown yet)

    def note(self, message_ids: list[int]) -> None:
        """Add the messages that showed an answer to this question (kept in order, once)."""
        self.shown += [i for i in message_ids if i not in self.shown]


@app_commands.command(name="thread", description="Start a thread where Omnicord answers every "
                      "message")
@app_commands.describe(name="the thread's name")
async def start_thread(interaction: discord.Interaction, name: str = THREAD_NAME) -> None:
    """Open a public thread owned by the bot, so every message in it is answered."""
    channel, language = interaction.channel, member_language(interaction)
    if not isinstance(channel, discord.TextChannel):
        await interaction.response.send_message(
            t(language, "chat.thread_text_channels_only"), ephemeral=True)
        return
    cog = cog_of(interaction, OmnicordChat)
    if isinstance(cog, OmnicordChat) and not cog.runtime.reads_all_messages:
        await interaction.response.send_message(t(language, "chat.needs_content_thread"),
                                                ephemeral=True)
        return
    try:
        thread = await channel.create_thread(name=name[:100] or THREAD_NAME,
                                             type=discord.ChannelType.public_thread)
    except discord.Forbidden:
        await interaction.response.send_message(t(language, "chat.thread_forbidden"),
                                                ephemeral=True)
        return
    await interaction.response.send_message(t(language, "chat.thread_started",
                                              thread=thread.mention), allowed_mentions=NO_PINGS)


async def setup(bot: commands.Bot) -> None:
    """Load the chat cog."""
    await setup_cog(bot, OmnicordChat)
