"""Settings: ``/omni server …`` (Manage Server), ``/omni me …``, and ``/omni status``,
``/omni reset``, ``/omni export``. Everything is stored in the same database as history.
"""

from __future__ import annotations

import io
from dataclasses import replace
from typing import Any

import discord
from discord import app_commands
from discord.ext import commands
from omnicord.cogs.utils.omni_group import add_commands, remove_commands
from omnicord.cogs.utils.places import guild_key, scope_for
from omnicord.cogs.utils.runtime import Runtime, cog_of, release, setup_cog
from omnicord.cogs.utils.streaming import NO_PINGS
from omnicord.conversation.export import export_json, export_markdown
from omnicord.conversation.prompts import DEFAULT_SYSTEM_PROMPT
from omnicord.model.catalog import chat_models
from omnicord.policy.preferences import (
    GuildPreferences,
    ReplyMode,
    SettingRefused,
    check_guild_change,
    check_member_change,
)

MODES = [app_commands.Choice(name=mode.value, value=mode.value) for mode in ReplyMode]
MEMBER_MODES = [*MODES, app_commands.Choice(name="server default", value="default")]
MAX_CHOICES = 25
PERSONA_LIMIT = 1500


def settings_cog(interaction: discord.Interaction) -> Settings:
    """The loaded settings cog."""
    cog = cog_of(interaction, "Settings")
    if not isinstance(cog, Settings):
        raise SettingRefused("Omnicord's settings are not loaded")
    return cog


def require_manage_guild(interaction: discord.Interaction) -> str:
    """The server's key, if the member may change its settings; SettingRefused otherwise."""
    if interaction.guild is None:
        raise SettingRefused("Server settings can only be changed in a server")
    if not interaction.permissions.manage_guild:
        raise SettingRefused("Only members with the Manage Server permission can change this")
    return guild_key(interaction.guild)


async def say(interaction: discord.Interaction, text: str) -> None:
    """A private answer to the member."""
    await interaction.response.send_message(text, ephemeral=True, allowed_mentions=NO_PINGS)


class Settings(commands.Cog):
    """Server and member preferences."""

    def __init__(self, bot: commands.Bot, runtime: Runtime) -> None:
        self.bot = bot
        self.runtime = runtime

    async def cog_load(self) -> None:
        add_commands(self.bot, server_group, me_group, status, reset, export)

    async def cog_unload(self) -> None:
        remove_commands(self.bot, server_group, me_group, status, reset, export)
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

    async def change_member(self, interaction: discord.Interaction, **change: Any) -> None:
        """Apply a member's own change after checking it against the server's settings."""
        guild, user = guild_key(interaction.guild), str(interaction.user.id)
        store = self.runtime.preferences
        merged = replace(await store.member(guild, user), **change)
        effective = await self.runtime.admission.effective(guild, user)
        await store.save_member(guild, user, check_member_change(effective, merged))


server_group = app_commands.Group(name="server", description="Server settings (Manage Server)")
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


@server_group.command(name="model", description="Default model for this server")
@app_commands.autocomplete(model=model_choices)
async def server_model(interaction: discord.Interaction, model: str) -> None:
    cog = settings_cog(interaction)
    guild = await cog.change_server(interaction, model=model.strip())
    effective = await cog.runtime.admission.effective(guild, str(interaction.user.id))
    await say(interaction, f"Model set to **{effective.model_name}** "
                           f"(voice {effective.voice or 'none'}).")


@server_group.command(name="voice", description="Default voice of spoken replies")
@app_commands.autocomplete(voice=voice_choices)
async def server_voice(interaction: discord.Interaction, voice: str) -> None:
    await settings_cog(interaction).change_server(interaction, voice=voice)
    await say(interaction, f"Server voice set to **{voice}**.")


@server_group.command(name="replies",
                      description="Text, voice, both, or auto (voice for voice notes)")
@app_commands.choices(mode=MODES)
async def server_replies(interaction: discord.Interaction, mode: str) -> None:
    await settings_cog(interaction).change_server(interaction, reply_mode=ReplyMode(mode))
    await say(interaction, f"Replies in this server: **{mode}**.")


@server_group.command(name="thinking", description="Thinking mode (text-only, slower, deeper)")
async def server_thinking(interaction: discord.Interaction, enabled: bool) -> None:
    await settings_cog(interaction).change_server(interaction, thinking=enabled)
    await say(interaction, f"Thinking mode **{'on' if enabled else 'off'}**.")


@server_group.command(name="chat-channel", description="Answer every message in a channel")
async def server_chat_channel(
    interaction: discord.Interaction, enabled: bool, channel: discord.TextChannel | None = None
) -> None:
    await _channel_role(interaction, "chat", enabled, channel)


@server_group.command(name="caption-channel", description="Caption every voice message in a "
                      "channel")
async def server_caption_channel(
    interaction: discord.Interaction, enabled: bool, channel: discord.TextChannel | None = None
) -> None:
    await _channel_role(interaction, "auto_caption", enabled, channel)


async def _channel_role(
    interaction: discord.Interaction, role: str, enabled: bool,
    channel: discord.TextChannel | None,
) -> None:
    guild = require_manage_guild(interaction)
    target = channel or interaction.channel
    if target is None:
        raise SettingRefused("Name a channel")
    runtime = settings_cog(interaction).runtime
    await runtime.preferences.set_channel_role(guild, str(target.id), role, enabled)
    what = "chat" if role == "chat" else "auto-captions"
    state = "on" if enabled else "off"
    await say(interaction, f"{what.capitalize()} **{state}** in <#{target.id}>.")


@server_group.command(name="persona", description="The system prompt (leave empty to reset)")
async def server_persona(interaction: discord.Interaction, prompt: str = "") -> None:
    if len(prompt) > PERSONA_LIMIT:
        raise SettingRefused(f"Keep the persona under {PERSONA_LIMIT} characters")
    cog = settings_cog(interaction)
    guild = require_manage_guild(interaction)
    current = await cog.runtime.preferences.guild(guild)
    await cog.runtime.preferences.save_guild(guild, replace(current,
                                                            system_prompt=prompt.strip() or None))
    await say(interaction, "Persona updated." if prompt.strip() else "Persona reset to default.")


@server_group.command(name="token-cap", description="Daily tokens per member (0: no cap)")
async def server_token_cap(
    interaction: discord.Interaction, tokens: app_commands.Range[int, 0, 100_000_000]
) -> None:
    await settings_cog(interaction).change_server(interaction, daily_token_cap=tokens)
    await say(interaction, f"Daily cap per member: **{tokens:,}** tokens." if tokens
              else "Daily cap removed.")


@me_group.command(name="voice", description="Your voice for spoken replies")
@app_commands.autocomplete(voice=voice_choices)
async def me_voice(interaction: discord.Interaction, voice: str) -> None:
    cleared = voice.strip().lower() in ("", "default")
    await settings_cog(interaction).change_member(interaction, voice=None if cleared else voice)
    await say(interaction, "Voice follows the server again." if cleared
              else f"Your voice: **{voice}**.")


@me_group.command(name="replies", description="How you want replies")
@app_commands.choices(mode=MEMBER_MODES)
async def me_replies(interaction: discord.Interaction, mode: str) -> None:
    chosen = None if mode == "default" else ReplyMode(mode)
    await settings_cog(interaction).change_member(interaction, reply_mode=chosen)
    await say(interaction, f"Your replies: **{mode}**.")


@app_commands.command(name="status", description="The settings Omnicord uses for you here")
async def status(interaction: discord.Interaction) -> None:
    runtime = settings_cog(interaction).runtime
    guild = guild_key(interaction.guild)
    effective = await runtime.admission.effective(guild, str(interaction.user.id))
    chat = await runtime.preferences.channel_role(str(interaction.channel_id), "chat")
    captions = await runtime.preferences.channel_role(str(interaction.channel_id), "auto_caption")
    persona = effective.system_prompt or DEFAULT_SYSTEM_PROMPT
    lines = [
        f"**Model:** {effective.model_name}",
        f"**Voice:** {effective.voice or '—'}",
        f"**Replies:** {effective.reply_mode.value}",
        f"**Thinking:** {'on' if effective.thinking else 'off'}",
        f"**Daily cap:** {_cap_text(effective.daily_token_cap)}",
        f"**This channel:** chat {'on' if chat else 'off'}, auto-captions "
        f"{'on' if captions else 'off'}",
        f"**Persona:** {persona[:300]}{'…' if len(persona) > 300 else ''}",
    ]
    await say(interaction, "\n".join(lines))


def _cap_text(cap: int | None) -> str:
    return f"{cap:,} tokens per member" if cap else "none"


@app_commands.command(name="reset", description="Forget the conversation here")
async def reset(interaction: discord.Interaction) -> None:
    if interaction.guild is not None and not interaction.permissions.manage_messages:
        raise SettingRefused("Clearing a channel's conversation needs the Manage Messages "
                             "permission; in DMs you can always clear your own")
    runtime = settings_cog(interaction).runtime
    removed = await runtime.services.store.reset(scope_for(interaction.channel,
                                                           interaction.user))
    await say(interaction, f"Conversation cleared ({removed} turns forgotten).")


@app_commands.command(name="export", description="The conversation here, as a file")
@app_commands.choices(format=[app_commands.Choice(name="Markdown", value="md"),
                              app_commands.Choice(name="JSON", value="json")])
async def export(interaction: discord.Interaction, format: str = "md") -> None:
    runtime = settings_cog(interaction).runtime
    scope = scope_for(interaction.channel, interaction.user)
    turns = await runtime.services.store.history(scope)
    text = (export_json if format == "json" else export_markdown)(scope, turns)
    file = discord.File(io.BytesIO(text.encode()), filename=f"omnicord-{scope.replace(':', '-')}"
                        f".{format}")
    await interaction.response.send_message(f"{len(turns)} turns.", file=file, ephemeral=True,
                                            allowed_mentions=NO_PINGS)


async def setup(bot: commands.Bot) -> None:
    """Load the settings cog."""
    await setup_cog(bot, Settings)
