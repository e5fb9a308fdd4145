"""Live talk in voice channels: ``/omni talk start`` brings Omnicord into the member's voice
channel, where it listens and answers aloud in real time; ``/omni talk stop`` (or everyone
leaving, or a quiet channel, or the server's daily talk time running out) ends it.

Off until a server admin enables it (``/omni-admin talk``); only members the server allows
(its talk roles, within its allow lists) are heard; Omnicord says in the channel's chat that it
is listening for as long as it is, and captions what it says there (and what members said, if
the server wants). The cog only carries packets: ``omnicord.live`` runs the session.
"""

from __future__ import annotations

import asyncio
import functools
import logging
from collections.abc import Awaitable, Callable
from dataclasses import replace
from typing import Any

import discord
from discord import app_commands
from discord.ext import commands
from omnicord.cogs.access.checks import check_access, require_manage_guild, role_ids
from omnicord.cogs.access.places import guild_key
from omnicord.cogs.delivery.friendly import friendly
from omnicord.cogs.delivery.live_captions import CaptionBoard
from omnicord.cogs.delivery.mentions import role_mentions
from omnicord.cogs.delivery.private import answer_privately
from omnicord.cogs.runtime.locale import member_language, place_language
from omnicord.cogs.runtime.omni_group import add_commands, remove_commands
from omnicord.cogs.runtime.shared import Runtime, cog_of, release, setup_cog
from omnicord.cogs.voice.connection import LiveVoice
from omnicord.errors import InputError
from omnicord.i18n import DEFAULT_LANGUAGE, t, text
from omnicord.i18n.text import Duration
from omnicord.live.rules import may_be_heard, seconds_left
from omnicord.live.session import Caption, LiveTalk, Place
from omnicord.realtime.client import SessionOptions
from omnicord.store.records import AccessList, TalkSettings, utc_today

log = logging.getLogger("omnicord.talk")
JOIN_SECONDS = 30.0

#: Why a session ended, as the channel reads it (in its language).
ENDED = {
    "stopped": text("talk.ended_stopped"),
    "everyone left": text("talk.ended_everyone_left"),
    "idle": text("talk.ended_idle"),
    "budget": text("talk.ended_budget"),
    "monthly budget": text("talk.ended_monthly_budget"),
    "disconnected": text("talk.ended_disconnected"),
    "unloaded": text("talk.ended_unloaded"),
}
LISTENING = text("talk.listening")
INSTRUCTIONS = ("You are Omnicord, taking part in a voice chat on Discord. Several people may "
                "speak. Answer briefly and naturally, as in a spoken conversation.")


class TalkRefused(InputError):
    """Live talk cannot start here: the message says why, politely."""


class OmnicordTalk(commands.Cog):
    """Talks with members in voice channels (one session per server: Discord gives a bot one
    voice connection per server)."""

    def __init__(self, bot: commands.Bot, runtime: Runtime) -> None:
        self.bot = bot
        self.runtime = runtime
        self.sessions: dict[int, _Session] = {}  # by guild id

    async def cog_load(self) -> None:
        add_commands(self.bot, talk_group)
        add_commands(self.bot, server_talk, server_talk_role, admin=True)

    async def cog_unload(self) -> None:
        for session in list(self.sessions.values()):
            session.live.stop("unloaded")
        await asyncio.gather(*(s.task for s in self.sessions.values() if s.task),
                             return_exceptions=True)
        remove_commands(self.bot, talk_group)
        remove_commands(self.bot, server_talk, server_talk_role, admin=True)
        await release(self.bot)

    # ------------------------------------------------------------------ starting

    async def start(self, interaction: discord.Interaction) -> str:
        """Join the member's voice channel and talk there; what to tell the member."""
        member, channel = _member_in_voice(interaction)
        guild = channel.guild
        await check_access(self.runtime, guild, member, channel)
        chosen = await self.runtime.services.store.talk.settings(guild_key(guild))
        _check_may_start(chosen, member)
        used = await self.runtime.services.store.talk.used(guild_key(guild), utc_today())
        if seconds_left(chosen, used) <= 0:
            raise TalkRefused(text("talk.time_used_up"))
        if self.runtime.admission.budgets is not None:  # OverBudget: its one polite line
            await self.runtime.admission.budgets.check(guild_key(guild))
        running = self.sessions.get(guild.id)
        if running is not None:
            raise TalkRefused(text("talk.already_here") if running.channel.id == channel.id
                              else text("talk.already_elsewhere",
                                        channel=f"<#{running.channel.id}>"))
        await self._open(channel, chosen)
        return t(member_language(interaction), "talk.joined", channel=f"<#{channel.id}>")

    async def _open(self, channel: discord.VoiceChannel | discord.StageChannel,
                    chosen: TalkSettings) -> None:
        settings = self.runtime.settings
        options = SessionOptions(model=settings.realtime_model, voice=settings.realtime_voice,
                                 instructions=INSTRUCTIONS)
        language = await place_language(self.runtime.preferences, channel.guild)
        board = CaptionBoard(channel, lambda user_id: display_name(channel.guild, user_id,
                                                                   language))
        voice = await _join(channel)
        live = LiveTalk(self.runtime.services.realtime, self.runtime.services.store,
                        Place(str(channel.guild.id), str(channel.id)), options, chosen,
                        _Output(voice, board), check_budget=self._budget_check(channel.guild))
        access = await self.runtime.preferences.access(guild_key(channel.guild))
        voice.on_packet = self._hearing(live, chosen, access, channel.guild)
        voice.on_disconnect = lambda: live.stop("disconnected")
        session = _Session(channel, live, voice, board, language)
        self.sessions[channel.guild.id] = session
        await board.say(LISTENING.render(language))
        session.task = asyncio.create_task(self._run(session),
                                           name=f"omnicord-talk-{channel.id}")

    def _budget_check(self, guild: discord.Guild) -> Callable[[], Awaitable[None]] | None:
        """The monthly budget check a session runs with its talk time (None: no budgets)."""
        budgets = self.runtime.admission.budgets
        if budgets is None:
            return None
        return functools.partial(budgets.check, guild_key(guild))

    def _hearing(self, live: LiveTalk, chosen: TalkSettings, access: AccessList,
                 guild: discord.Guild) -> Callable[[int, bytes], None]:
        """What to do with a member's packet: hand it on if the member may be heard (bots
        never are)."""

        def heard(user_id: int, opus: bytes) -> None:
            member = guild.get_member(user_id)
            if member is None or member.bot or not may_be_heard(chosen, role_ids(member),
                                                                access):
                return
            live.hear(str(user_id), opus)

        return heard

    async def _run(self, session: _Session) -> None:
        reason = "stopped"
        try:
            reason = await session.live.run()
        except Exception as error:  # an upstream failure: tell the channel in one line
            log.warning("live talk in %s ended: %s", session.channel.id, type(error).__name__)
            reason = friendly(error, language=session.language)
        finally:
            self.sessions.pop(session.channel.guild.id, None)
            await session.voice.leave()
            await session.board.close()
            ended = ENDED.get(reason)
            await session.board.say(ended.render(session.language) if ended is not None else
                                    t(session.language, "talk.ended_error", reason=reason))
            log.info("live talk in %s ended (%s): %d answers, %d barge-ins, %d turns kept",
                     session.channel.id, reason if reason in ENDED else "error",
                     session.live.stats.answers, session.live.stats.barge_ins,
                     session.live.stats.turns_kept)

    # ------------------------------------------------------------------ ending

    def stop(self, interaction: discord.Interaction) -> str:
        """End the session in the member's server; what to tell the member."""
        if interaction.guild is None:
            raise TalkRefused(text("talk.servers_only"))
        session = self.sessions.get(interaction.guild.id)
        if session is None:
            raise TalkRefused(text("talk.not_talking"))
        session.live.stop("stopped")
        return t(member_language(interaction), "talk.ending")

    @commands.Cog.listener()
    async def on_voice_state_update(self, member: discord.Member, before: discord.VoiceState,
                                    after: discord.VoiceState) -> None:
        """Everyone left the channel: end the session."""
        session = self.sessions.get(member.guild.id)
        if session is None or before.channel is None or before.channel.id != session.channel.id:
            return
        if not any(not m.bot for m in session.channel.members):
            session.live.stop("everyone left")


class _Session:
    """A talk session the cog runs in one server."""

    def __init__(self, channel: discord.VoiceChannel | discord.StageChannel, live: LiveTalk,
                 voice: LiveVoice, board: CaptionBoard, language: str) -> None:
        self.channel, self.live, self.voice, self.board = channel, live, voice, board
        self.language = language  # the channel's, for its notices
        self.task: asyncio.Task[None] | None = None


class _Output:
    """``LiveOutput`` on Discord: answers through the voice connection, captions on a board."""

    def __init__(self, voice: LiveVoice, board: CaptionBoard) -> None:
        self.voice, self.board = voice, board

    def play(self, audio: Any) -> None:
        self.voice.play(audio)

    def stop_playing(self) -> None:
        self.voice.stop_playing()

    def caption(self, line: Caption) -> None:
        self.board.caption(line)

    def name_of(self, user_id: str) -> str:
        return self.board.name_of(user_id)


def display_name(guild: discord.Guild, user_id: str, language: str = DEFAULT_LANGUAGE) -> str:
    """A member's name in the server ("a member", in ``language``, once they left)."""
    member = guild.get_member(int(user_id))
    return member.display_name if member else t(language, "talk.a_member")


def _member_in_voice(interaction: discord.Interaction
                     ) -> tuple[discord.Member, discord.VoiceChannel | discord.StageChannel]:
    member = interaction.user
    if interaction.guild is None or not isinstance(member, discord.Member):
        raise TalkRefused(text("talk.servers_only"))
    channel = member.voice.channel if member.voice else None
    if channel is None:
        raise TalkRefused(text("talk.join_voice_first"))
    return member, channel


async def _join(channel: discord.VoiceChannel | discord.StageChannel) -> LiveVoice:
    """Connect to ``channel``, or say in one line why Omnicord could not."""
    allowed = channel.permissions_for(channel.guild.me)
    if not (allowed.connect and allowed.speak):
        raise TalkRefused(text("talk.needs_permissions", channel=f"<#{channel.id}>"))
    try:
        return await LiveVoice.connect(channel, timeout=JOIN_SECONDS)
    except TimeoutError:
        raise TalkRefused(text("talk.join_timed_out")) from None
    except discord.ClientException as error:
        log.warning("could not join a voice channel: %s", type(error).__name__)
        raise TalkRefused(text("talk.join_failed")) from None


def _check_may_start(chosen: TalkSettings, member: discord.Member) -> None:
    if not chosen.enabled:
        raise TalkRefused(text("talk.off"))
    if not may_be_heard(chosen, role_ids(member)):
        raise TalkRefused(text("talk.roles_only"))


def _cog(interaction: discord.Interaction) -> OmnicordTalk:
    cog = cog_of(interaction, OmnicordTalk)
    if cog is None:
        raise TalkRefused(text("talk.not_loaded"))
    return cog


talk_group = app_commands.Group(name="talk", description="Talk with Omnicord in a voice channel",
                                guild_only=True)


@talk_group.command(name="start", description="Omnicord joins your voice channel and talks "
                    "with you there")
async def talk_start(interaction: discord.Interaction) -> None:
    cog = _cog(interaction)
    await interaction.response.defer(ephemeral=True, thinking=True)
    await answer_privately(interaction, await cog.start(interaction))


@talk_group.command(name="stop", description="Omnicord leaves the voice channel")
async def talk_stop(interaction: discord.Interaction) -> None:
    await answer_privately(interaction, _cog(interaction).stop(interaction))


@app_commands.command(name="talk", description="Live talk in voice channels: on or off, and "
                      "its limits")
@app_commands.describe(enabled="Whether members may start live talk",
                       minutes_per_day="Talk time per day for the whole server (1-1440)",
                       idle_minutes="End a session after this many quiet minutes (1-120)",
                       caption_members="Also caption what members say, not only Omnicord")
async def server_talk(interaction: discord.Interaction, enabled: bool | None = None,
                      minutes_per_day: app_commands.Range[int, 1, 1440] | None = None,
                      idle_minutes: app_commands.Range[int, 1, 120] | None = None,
                      caption_members: bool | None = None) -> None:
    guild = require_manage_guild(interaction)
    store = _cog(interaction).runtime.services.store
    chosen = await store.talk.settings(guild)
    changes: dict[str, Any] = {name: value for name, value in (
        ("enabled", enabled), ("minutes_per_day", minutes_per_day),
        ("idle_minutes", idle_minutes), ("caption_members", caption_members))
        if value is not None}
    if changes:
        chosen = replace(chosen, **changes)
        await store.talk.save(guild, chosen)
    used = await store.talk.used(guild, utc_today())
    await answer_privately(interaction, describe(chosen, used, member_language(interaction)))


@app_commands.command(name="talk-role", description="Allow a role to talk with Omnicord in "
                      "voice channels (none allowed: everyone may)")
@app_commands.describe(role="the role", allowed="add it to the list (True) or take it off")
async def server_talk_role(interaction: discord.Interaction, role: discord.Role,
                           allowed: bool) -> None:
    guild = require_manage_guild(interaction)
    store = _cog(interaction).runtime.services.store
    chosen = await store.talk.settings(guild)
    roles = chosen.roles | {str(role.id)} if allowed else chosen.roles - {str(role.id)}
    chosen = replace(chosen, roles=frozenset(roles))
    await store.talk.save(guild, chosen)
    used = await store.talk.used(guild, utc_today())
    await answer_privately(interaction, describe(chosen, used, member_language(interaction)))


def describe(chosen: TalkSettings, used_seconds: float,
             language: str = DEFAULT_LANGUAGE) -> str:
    """A server's live-talk settings, for its admins (in ``language``)."""
    who = role_mentions(chosen.roles) or text("talk.every_member")
    return t(language, "talk.settings",
             state=text("talk.on") if chosen.enabled else text("talk.off_state"),
             used=Duration(used_seconds), limit=Duration(chosen.minutes_per_day * 60),
             idle=Duration(chosen.idle_minutes * 60),
             captions=text("talk.captions_everyone") if chosen.caption_members
             else text("talk.captions_omnicord_only"), who=who)


async def setup(bot: commands.Bot) -> None:
    """Load the live-talk cog."""
    await setup_cog(bot, OmnicordTalk)

