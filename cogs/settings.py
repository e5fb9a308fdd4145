"""Settings: ``/omni-admin …`` (the server's settings: Manage Server, hidden from members by
Discord and checked again here), ``/omni me …``, and ``/omni status``, ``/omni reset``,
``/omni export``. Everything is stored in the same database as history.
"""

from __future__ import annotations

import io
from dataclasses import replace
from typing import Any

import discord
from discord import app_commands
from discord.ext import commands
from omnicord.cogs.access.checks import require_manage_guild
from omnicord.cogs.access.places import guild_key, place_of, scope_for
from omnicord.cogs.delivery.mentions import channel_mentions, role_mentions
from omnicord.cogs.delivery.private import answer_privately
from omnicord.cogs.delivery.streaming import NO_PINGS
from omnicord.cogs.runtime.languages import language_autocomplete, member_language_autocomplete
from omnicord.cogs.runtime.locale import member_language, place_language
from omnicord.cogs.runtime.omni_group import add_commands, remove_commands
from omnicord.cogs.runtime.shared import Runtime, cog_of, release, setup_cog
from omnicord.conversation.chains import chain_prefix
from omnicord.conversation.export import PlacedTurn, export_json, export_markdown
from omnicord.conversation.prompts import DEFAULT_SYSTEM_PROMPT
from omnicord.i18n import LANGUAGES, Text, language_name, language_of, t, text
from omnicord.model.catalog import chat_models, find_model
from omnicord.policy.languages import NO_TRANSLATION, check_language, translation_language
from omnicord.policy.preferences import (
    GuildPreferences,
    ReplyMode,
    SettingRefused,
    check_guild_change,
    check_member_change,
)
from omnicord.store.interface import PreferenceStore
from omnicord.store.records import AccessList, CaptionMode, ConversationMode, Turn

#: A channel or thread an admin names in a command.
PlaceTarget = discord.TextChannel | discord.Thread
PlaceOption = discord.TextChannel | discord.Thread | None
MODES = [app_commands.Choice(name=mode.value, value=mode.value) for mode in ReplyMode]
MEMBER_MODES = [*MODES, app_commands.Choice(name="server default", value="default")]
CAPTION_MODES = [app_commands.Choice(name=mode.value, value=mode.value) for mode in CaptionMode]
CAPTION_MODE_TEXT = {mode: text(f"settings.caption_mode.{mode.value}") for mode in CaptionMode}
MAX_CHOICES = 25
#: ``/omni status`` when the bot runs without the Message Content intent.
NO_CONTENT_STATUS = text("settings.status.no_content")
PERSONA_LIMIT = 1500
#: Turns of a channel a member without Manage Messages may export (the newest).
EXPORT_TURNS = 100


def check_model(name: str) -> str:
    """A chat model's catalog name (SettingRefused naming the choices otherwise)."""
    try:
        return find_model(name, "chat").name
    except ValueError as error:
        raise SettingRefused(getattr(error, "text", None) or str(error)) from None


def settings_cog(interaction: discord.Interaction) -> OmnicordSettings:
    """The loaded settings cog."""
    cog = cog_of(interaction, OmnicordSettings)
    if cog is None:
        raise SettingRefused(text("settings.not_loaded"))
    return cog


async def say(interaction: discord.Interaction, key: str, /, **values: object) -> None:
    """A private answer to the member: the catalogue message ``key``, in their language."""
    await interaction.response.send_message(t(member_language(interaction), key, **values),
                                            ephemeral=True, allowed_mentions=NO_PINGS)


def mode_text(mode: str) -> Text:
    """A reply mode (``text``, ``voice``, ``both``, ``auto``, ``default``) as members read it."""
    return text(f"settings.reply_mode.{mode}")


def state_text(enabled: bool) -> Text:
    """``on`` or ``off``."""
    return text("settings.on" if enabled else "settings.off")


class OmnicordSettings(commands.Cog):
    """Server and member preferences."""

    def __init__(self, bot: commands.Bot, runtime: Runtime) -> None:
        self.bot = bot
        self.runtime = runtime

    async def cog_load(self) -> None:
        add_commands(self.bot, me_group, status, reset, export)
        add_commands(self.bot, *ADMIN_COMMANDS, admin=True)

    async def cog_unload(self) -> None:
        remove_commands(self.bot, me_group, status, reset, export)
        remove_commands(self.bot, *ADMIN_COMMANDS, admin=True)
        await release(self.bot)

    async def change_server(self, interaction: discord.Interaction, **change: Any) -> str:
        """Apply a server change after the permission and consistency checks."""
        guild = require_manage_guild(interaction)
        store = self.runtime.preferences
        current = await store.guild(guild)
        merged = check_guild_change(self.runtime.admission.defaults, current,
                                    GuildPreferences(**change))
        await store.save_guild(guild, merged)
        return guild

    async def change_place(self, interaction: discord.Interaction, place: PlaceTarget,
                           **change: Any) -> None:
        """Change a channel's or thread's own settings (Manage Server, and in this server)."""
        guild = require_manage_guild(interaction)
        if str(place.guild.id) != guild:
            raise SettingRefused(text("settings.place_of_this_server"))
        store = self.runtime.preferences
        current = await store.place(str(place.id))
        await store.save_place(guild, str(place.id), replace(current, **change))

    async def change_member(self, interaction: discord.Interaction, **change: Any) -> None:
        """Apply a member's own change after checking it against the server's settings."""
        guild, user = guild_key(interaction.guild), str(interaction.user.id)
        store = self.runtime.preferences
        merged = replace(await store.member(guild, user), **change)
        effective = await self.runtime.admission.effective(guild, user)
        await store.save_member(guild, user, check_member_change(effective, merged))


me_group = app_commands.Group(name="me", description="Your own Omnicord preferences")


async def model_choices(_: discord.Interaction, current: str) -> list[app_commands.Choice[str]]:
    """Chat models matching what was typed."""
    names = [m.name for m in chat_models()]
    return [app_commands.Choice(name=n, value=n) for n in names if current.lower() in n][
        :MAX_CHOICES]


async def voice_choices(
    interaction: discord.Interaction, current: str
) -> list[app_commands.Choice[str]]:
    """The active model's voices matching what was typed."""
    runtime = settings_cog(interaction).runtime
    effective = await runtime.admission.effective(guild_key(interaction.guild),
                                                  str(interaction.user.id))
    choices = []
    for voice in effective.model.voices:
        label = f"{voice.name} ({voice.note})" if voice.note else voice.name
        if current.lower() in label.lower():
            choices.append(app_commands.Choice(name=label, value=voice.name))
    return choices[:MAX_CHOICES]


@app_commands.command(name="model", description="The model for this server, or for one "
                      "channel or thread")
@app_commands.describe(model="a chat model ('default' with a channel: follow the server again)",
                       channel="only in this channel or thread (threads win over channels)")
@app_commands.autocomplete(model=model_choices)
async def server_model(interaction: discord.Interaction, model: str,
                       channel: PlaceOption = None) -> None:
    cog = settings_cog(interaction)
    if channel is not None:
        chosen = None if model.strip().lower() == "default" else check_model(model)
        await cog.change_place(interaction, channel, model=chosen)
        if chosen:
            await say(interaction, "settings.model_in_place", channel=str(channel.id),
                      model=chosen)
        else:
            await say(interaction, "settings.model_place_follows", channel=str(channel.id))
        return
    guild = await cog.change_server(interaction, model=model.strip())
    effective = await cog.runtime.admission.effective(guild, str(interaction.user.id))
    await say(interaction, "settings.model_set", model=effective.model_name,
              voice=effective.voice or text("settings.none"))


@app_commands.command(name="voice", description="Default voice of spoken replies")
@app_commands.autocomplete(voice=voice_choices)
@app_commands.describe(voice="a voice of the model in use")
async def server_voice(interaction: discord.Interaction, voice: str) -> None:
    await settings_cog(interaction).change_server(interaction, voice=voice)
    await say(interaction, "settings.voice_set", voice=voice)


@app_commands.command(name="replies",
                      description="Text, voice, both, or auto (voice for voice notes)")
@app_commands.choices(mode=MODES)
@app_commands.describe(mode="text, voice, both, or auto (voice for voice notes)")
async def server_replies(interaction: discord.Interaction, mode: str) -> None:
    await settings_cog(interaction).change_server(interaction, reply_mode=ReplyMode(mode))
    await say(interaction, "settings.replies_set", mode=mode_text(mode))


@app_commands.command(name="thinking", description="Thinking mode (text-only, slower, deeper)")
@app_commands.describe(enabled="on (True) or off (False)")
async def server_thinking(interaction: discord.Interaction, enabled: bool) -> None:
    await settings_cog(interaction).change_server(interaction, thinking=enabled)
    await say(interaction, "settings.thinking_set", state=state_text(enabled))


@app_commands.command(name="chat-channel", description="Answer every message in a channel")
@app_commands.describe(enabled="on (True) or off (False)",
                       channel="the channel (default: this one)")
async def server_chat_channel(
    interaction: discord.Interaction, enabled: bool, channel: discord.TextChannel | None = None
) -> None:
    await _channel_role(interaction, "chat", enabled, channel)


@app_commands.command(name="caption-channel", description="Transcribe or caption every voice "
                      "message in a channel")
@app_commands.describe(mode="transcript: the words (default); description: voices and sounds; "
                       "or both", enabled="on (True) or off (False)",
                       channel="the channel (default: this one)")
@app_commands.choices(mode=CAPTION_MODES)
async def server_caption_channel(
    interaction: discord.Interaction, enabled: bool, channel: discord.TextChannel | None = None,
    mode: str | None = None,
) -> None:
    guild = require_manage_guild(interaction)
    target = channel or interaction.channel
    if target is None:
        raise SettingRefused(text("settings.name_a_channel"))
    preferences = settings_cog(interaction).runtime.preferences
    if mode is not None:
        await preferences.set_caption_mode(guild, str(target.id), CaptionMode(mode))
    await preferences.set_channel_role(guild, str(target.id), "auto_caption", enabled)
    if not enabled:
        await say(interaction, "settings.captions_off", channel=str(target.id))
        return
    language = member_language(interaction)
    shown = CAPTION_MODE_TEXT[await preferences.caption_mode(str(target.id))]
    await interaction.response.send_message(
        t(language, "settings.captions_on", channel=str(target.id), shown=shown)
        + _needs_content(interaction, "settings.needs_content_captions"),
        ephemeral=True, allowed_mentions=NO_PINGS)


@app_commands.command(name="caption-language",
                      description="Translate transcripts into a language (none: no translation)")
@app_commands.autocomplete(language=language_autocomplete)
@app_commands.describe(language="a language, or none for no translation")
async def server_caption_language(interaction: discord.Interaction, language: str) -> None:
    cog = settings_cog(interaction)
    guild = require_manage_guild(interaction)
    chosen = check_language(language)
    current = await cog.runtime.preferences.guild(guild)
    stored = None if chosen == NO_TRANSLATION else chosen
    await cog.runtime.preferences.save_guild(guild, replace(current, caption_language=stored))
    if stored:
        await say(interaction, "settings.translated_into", language=stored)
    else:
        await say(interaction, "settings.not_translated")


async def _channel_role(
    interaction: discord.Interaction, role: str, enabled: bool,
    channel: discord.TextChannel | None,
) -> None:
    guild = require_manage_guild(interaction)
    target = channel or interaction.channel
    if target is None:
        raise SettingRefused(text("settings.name_a_channel"))
    runtime = settings_cog(interaction).runtime
    await runtime.preferences.set_channel_role(guild, str(target.id), role, enabled)
    warning = _needs_content(interaction, "settings.needs_content_chat") if enabled else ""
    answer = t(member_language(interaction), "settings.chat_set", state=state_text(enabled),
               channel=str(target.id))
    await interaction.response.send_message(answer + warning, ephemeral=True,
                                            allowed_mentions=NO_PINGS)


def _needs_content(interaction: discord.Interaction, key: str) -> str:
    """A warning (catalogue ``key``) to add when a setting cannot work because the bot does
    not read every message (no Message Content intent); empty otherwise."""
    if settings_cog(interaction).runtime.reads_all_messages:
        return ""
    return "\n⚠️ " + t(member_language(interaction), key)


@app_commands.command(name="allow-role", description="Open Omnicord to listed roles only "
                      "(none listed: everyone)")
@app_commands.describe(role="the role", allowed="add it to the list (True) or take it off")
async def server_allow_role(interaction: discord.Interaction, role: discord.Role,
                            allowed: bool) -> None:
    await _allow(interaction, "role", role.id, allowed)


@app_commands.command(name="allow-channel", description="Open Omnicord in listed channels or "
                      "categories only (none listed: everywhere)")
@app_commands.describe(allowed="add it to the list (True) or take it off",
                       channel="a channel or category (default: this channel)")
async def server_allow_channel(
    interaction: discord.Interaction, allowed: bool,
    channel: discord.TextChannel | discord.CategoryChannel | None = None,
) -> None:
    target = channel or interaction.channel
    if target is None:
        raise SettingRefused(text("settings.name_a_channel"))
    await _allow(interaction, "channel", target.id, allowed)


async def _allow(interaction: discord.Interaction, kind: str, target_id: int,
                 allowed: bool) -> None:
    guild = require_manage_guild(interaction)
    preferences = settings_cog(interaction).runtime.preferences
    await preferences.set_access(guild, kind, str(target_id), allowed)
    await say(interaction, "settings.open_to", who=access_text(await preferences.access(guild)))


#: The longest persona preview ``/omni status`` shows.
PERSONA_PREVIEW = 300


def access_text(access: AccessList) -> Text:
    """Who may use Omnicord in a server, with role and channel mentions (bounded lists that
    ping nobody)."""
    roles = role_mentions(access.roles) or text("settings.everyone")
    places = channel_mentions(access.channels) or text("settings.every_channel")
    return text("settings.access", roles=roles, places=places)


def preview(persona: str) -> str:
    """The persona's start: at most ``PERSONA_PREVIEW`` characters, with … when cut."""
    if len(persona) <= PERSONA_PREVIEW:
        return persona
    return f"{persona[:PERSONA_PREVIEW]}…"


@app_commands.command(name="persona", description="The system prompt for this server, or for "
                      "one channel or thread (empty: reset)")
@app_commands.describe(prompt="how Omnicord should behave (leave empty to reset)",
                       channel="only in this channel or thread (threads win over channels)")
async def server_persona(interaction: discord.Interaction, prompt: str = "",
                         channel: PlaceOption = None) -> None:
    if len(prompt) > PERSONA_LIMIT:
        raise SettingRefused(text("settings.persona_too_long", limit=PERSONA_LIMIT))
    cog = settings_cog(interaction)
    chosen = prompt.strip() or None
    if channel is not None:
        await cog.change_place(interaction, channel, system_prompt=chosen)
        await say(interaction, "settings.persona_in_place" if chosen
                  else "settings.persona_place_follows", channel=str(channel.id))
        return
    guild = require_manage_guild(interaction)
    current = await cog.runtime.preferences.guild(guild)
    await cog.runtime.preferences.save_guild(guild, replace(current, system_prompt=chosen))
    await say(interaction, "settings.persona_updated" if chosen else "settings.persona_reset")


CONVERSATION_MODES = [
    app_commands.Choice(name="reply chains: each mention starts one, replies continue it",
                        value=ConversationMode.REPLY_CHAIN.value),
    app_commands.Choice(name="channel: one shared history", value=ConversationMode.CHANNEL.value),
    app_commands.Choice(name="default for the place", value="default"),
]


@app_commands.command(name="conversations", description="How a channel or thread keeps its "
                      "conversations")
@app_commands.describe(mode="reply chains (ordinary channels) or one shared history (chat "
                       "channels, Omnicord's threads)",
                       channel="the channel or thread (default: this one)")
@app_commands.choices(mode=CONVERSATION_MODES)
async def server_conversations(interaction: discord.Interaction, mode: str,
                               channel: PlaceOption = None) -> None:
    target = channel or interaction.channel
    if not isinstance(target, discord.TextChannel | discord.Thread):
        raise SettingRefused(text("settings.text_place"))
    chosen = None if mode == "default" else ConversationMode(mode)
    await settings_cog(interaction).change_place(interaction, target, conversation=chosen)
    await say(interaction, "settings.conversations_set", channel=str(target.id),
              mode=CONVERSATION_TEXT[chosen])


#: ``/omni status`` and ``/omni-admin conversations``: what a conversation mode means.
CONVERSATION_TEXT: dict[ConversationMode | None, Text] = {
    ConversationMode.REPLY_CHAIN: text("settings.conversation.reply_chain"),
    ConversationMode.CHANNEL: text("settings.conversation.channel"),
    None: text("settings.conversation.default"),
}


@app_commands.command(name="token-cap", description="Daily tokens per member (0: no cap)")
@app_commands.describe(tokens="tokens per member per UTC day (0: no cap)")
async def server_token_cap(
    interaction: discord.Interaction, tokens: app_commands.Range[int, 0, 100_000_000]
) -> None:
    await settings_cog(interaction).change_server(interaction, daily_token_cap=tokens)
    if tokens:
        await say(interaction, "settings.cap_set", tokens=tokens)
    else:
        await say(interaction, "settings.cap_removed")


LANGUAGE_CHOICES = [
    *(app_commands.Choice(name=language_name(code, native=True), value=code)
      for code in LANGUAGES),
    app_commands.Choice(name="the server's language in Discord", value="discord"),
]


@app_commands.command(name="language",
                      description="The language Omnicord speaks in this server's channels")
@app_commands.describe(language="a language, or the server's language in Discord")
@app_commands.choices(language=LANGUAGE_CHOICES)
async def server_language(interaction: discord.Interaction, language: str) -> None:
    cog = settings_cog(interaction)
    guild = require_manage_guild(interaction)
    chosen = None if language == "discord" else language_of(language)
    current = await cog.runtime.preferences.guild(guild)
    await cog.runtime.preferences.save_guild(guild, replace(current, language=chosen))
    speaks = await place_language(cog.runtime.preferences, interaction.guild)
    await say(interaction, "language.set" if chosen else "language.follows_discord",
              language=language_name(speaks, native=True))


#: ``/omni-admin``: the server-wide settings.
ADMIN_COMMANDS: tuple[app_commands.Command[Any, ..., Any], ...] = (
    server_model, server_voice, server_replies, server_thinking, server_chat_channel,
    server_caption_channel, server_caption_language, server_allow_role, server_allow_channel,
    server_persona, server_token_cap, server_conversations, server_language)


@me_group.command(name="voice", description="Your voice for spoken replies")
@app_commands.autocomplete(voice=voice_choices)
@app_commands.describe(voice="a voice of the model in use")
async def me_voice(interaction: discord.Interaction, voice: str) -> None:
    cleared = voice.strip().lower() in ("", "default")
    await settings_cog(interaction).change_member(interaction, voice=None if cleared else voice)
    if cleared:
        await say(interaction, "settings.me_voice_follows")
    else:
        await say(interaction, "settings.me_voice", voice=voice)


@me_group.command(name="replies", description="How you want replies")
@app_commands.choices(mode=MEMBER_MODES)
@app_commands.describe(mode="text, voice, both, or auto (voice for voice notes)")
async def me_replies(interaction: discord.Interaction, mode: str) -> None:
    chosen = None if mode == "default" else ReplyMode(mode)
    await settings_cog(interaction).change_member(interaction, reply_mode=chosen)
    await say(interaction, "settings.me_replies", mode=mode_text(mode))


@me_group.command(name="caption-language",
                  description="Translate the transcripts you ask for (default: the server's)")
@app_commands.autocomplete(language=member_language_autocomplete)
@app_commands.describe(language="a language, none, or default (the server's)")
async def me_caption_language(interaction: discord.Interaction, language: str) -> None:
    follow = language.strip().lower() == "default"
    chosen = None if follow else check_language(language)
    await settings_cog(interaction).change_member(interaction, caption_language=chosen)
    if follow:
        await say(interaction, "settings.me_captions_follow")
    elif chosen == NO_TRANSLATION:
        await say(interaction, "settings.me_captions_none")
    else:
        await say(interaction, "settings.me_captions_into", language=chosen)


@app_commands.command(name="status", description="The settings Omnicord uses for you here")
async def status(interaction: discord.Interaction) -> None:
    runtime = settings_cog(interaction).runtime
    guild = guild_key(interaction.guild)
    effective = await runtime.admission.effective(guild, str(interaction.user.id),
                                                  place_of(interaction.channel))
    chat = await runtime.preferences.channel_role(str(interaction.channel_id), "chat")
    captions = await runtime.preferences.channel_role(str(interaction.channel_id), "auto_caption")
    caption_mode = await runtime.preferences.caption_mode(str(interaction.channel_id))
    language = await _translation(runtime.preferences, guild, str(interaction.user.id))
    persona = effective.system_prompt or DEFAULT_SYSTEM_PROMPT
    shown = member_language(interaction)
    lines = [
        t(shown, "settings.status.model", model=effective.model_name,
          source=SOURCE_TEXT[effective.model_from]),
        t(shown, "settings.status.voice", voice=effective.voice or "—"),
        t(shown, "settings.status.replies", mode=mode_text(effective.reply_mode.value)),
        t(shown, "settings.status.thinking", state=state_text(effective.thinking)),
        t(shown, "settings.status.daily_cap", cap=_cap_text(effective.daily_token_cap)),
        t(shown, "settings.status.this_channel", chat=state_text(chat),
          captions=text("settings.status.captions_on", mode=CAPTION_MODE_TEXT[caption_mode])
          if captions else text("settings.status.captions_off")),
        t(shown, "settings.status.translated",
          language=language or text("settings.status.not_translated")),
        t(shown, "settings.status.persona", source=SOURCE_TEXT[effective.persona_from],
          persona=preview(persona)),
    ]
    if interaction.guild is not None:
        lines.append(t(shown, "settings.status.conversations",
                       mode=CONVERSATION_TEXT[effective.conversation]))
        lines.append(t(shown, "settings.status.open_to",
                       who=access_text(await runtime.preferences.access(guild))))
        speaks = await place_language(runtime.preferences, interaction.guild)
        lines.append(t(shown, "common.status_channel_language",
                       language=language_name(speaks, native=True)))
    if not runtime.reads_all_messages:
        lines.append(NO_CONTENT_STATUS.render(shown))
    lines.append(runtime.services.data_statement(shown))
    await answer_privately(interaction, "\n".join(lines))  # in two messages if need be


async def _translation(preferences: PreferenceStore, guild: str, user: str) -> str | None:
    """The language this member's transcripts are translated into here, if any."""
    member = (await preferences.member(guild, user)).caption_language
    server = (await preferences.guild(guild)).caption_language if guild else None
    return translation_language(None, member, server)


#: Where a model or persona in effect was chosen.
SOURCE_TEXT = {source: text(f"settings.source.{source}")
               for source in ("thread", "channel", "server", "default")}


def _cap_text(cap: int | None) -> Text:
    return text("settings.status.cap_tokens", cap=cap) if cap else text("settings.none")


@app_commands.command(name="reset", description="Forget the conversation here")
async def reset(interaction: discord.Interaction) -> None:
    if interaction.guild is not None and not interaction.permissions.manage_messages:
        raise SettingRefused(text("settings.reset_needs_manage_messages"))
    store = settings_cog(interaction).runtime.services.store
    scope = scope_for(interaction.channel, interaction.user)
    if interaction.guild is None or interaction.channel_id is None:
        removed = await store.reset(scope)
    else:  # the shared history and every reply chain of this channel or thread
        removed = await store.reset_place(scope, chain_prefix(str(interaction.channel_id)))
    await say(interaction, "settings.reset_done", count=removed)


@app_commands.command(name="export", description="The conversation here, as a file")
@app_commands.choices(format=[app_commands.Choice(name="Markdown", value="md"),
                              app_commands.Choice(name="JSON", value="json")])
@app_commands.describe(format="Markdown or JSON")
async def export(interaction: discord.Interaction, format: str = "md") -> None:
    limit = export_limit(interaction)
    store = settings_cog(interaction).runtime.services.store
    scope = scope_for(interaction.channel, interaction.user)
    turns: list[Turn] | list[PlacedTurn]
    if interaction.guild is None or interaction.channel_id is None:
        turns = await store.history(scope, limit=limit)
    else:
        turns = await store.place_history(scope, chain_prefix(str(interaction.channel_id)),
                                          limit=limit)
    text = (export_json if format == "json" else export_markdown)(scope, turns)
    file = discord.File(io.BytesIO(text.encode()), filename=f"omnicord-{scope.replace(':', '-')}"
                        f".{format}")
    key = ("settings.exported_newest" if limit is not None and len(turns) == limit
           else "settings.exported")
    await interaction.response.send_message(t(member_language(interaction), key,
                                              count=len(turns)), file=file,
                                            ephemeral=True, allowed_mentions=NO_PINGS)


def export_limit(interaction: discord.Interaction) -> int | None:
    """How many of the newest turns the member may export here (None: all of them).

    Your own DMs: always all. A server channel or thread needs Read Message History there;
    without Manage Messages, a busy channel's export holds its newest ``EXPORT_TURNS`` turns.
    """
    if interaction.guild is None:
        return None
    permissions = interaction.permissions
    if not permissions.read_message_history:
        raise SettingRefused(text("settings.export_needs_history"))
    return None if permissions.manage_messages else EXPORT_TURNS


async def setup(bot: commands.Bot) -> None:
    """Load the settings cog."""
    await setup_cog(bot, OmnicordSettings)
