"""Members' data: a deleted message takes its turn with it, ``/omni forget me`` erases a member
everywhere after a confirmation button, and turns older than OMNICORD_RETENTION_DAYS are
pruned at start-up and daily.

Deletions arrive as raw gateway events, so messages discord.py never cached count too, and a
bulk delete (a moderator purging a channel) erases every turn it touched. When the deleted
message was a member's, Omnicord's replies to it (and captions of it) are deleted in Discord
too, one by one (the bot may always delete its own messages; discord.py keeps to the rate
limits); replies already gone are skipped quietly. An edited message takes its turn too (the
reply stays). At each new gateway session, the newest stored turns are checked for messages
deleted while the bot was away (``omnicord.cogs.access.vanished``).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Iterable, Sequence

import discord
from discord import app_commands
from discord.ext import commands, tasks
from omnicord.cogs.access.vanished import vanished_messages
from omnicord.cogs.delivery.friendly import friendly
from omnicord.cogs.delivery.private import answer_privately
from omnicord.cogs.delivery.streaming import NO_PINGS, is_gone
from omnicord.cogs.runtime.locale import member_language
from omnicord.cogs.runtime.omni_group import add_commands, remove_commands
from omnicord.cogs.runtime.shared import Runtime, cog_of, release, setup_cog
from omnicord.conversation.privacy import Privacy as Erasures
from omnicord.i18n import DEFAULT_LANGUAGE, t, text
from omnicord.store.records import Removed

log = logging.getLogger("omnicord.privacy")
CONFIRM_SECONDS = 120.0
ASK = text("privacy.ask")
CANCELLED = text("privacy.cancelled")
TIMED_OUT = text("privacy.timed_out")
NOT_YOURS = text("privacy.not_yours")


def members_edit(payload: discord.RawMessageUpdateEvent) -> bool:
    """Whether an update is a member editing their message (not a bot's edit, an embed
    appearing, a pin, or an edit that changed neither words nor attachments)."""
    data = payload.data
    if data.get("author", {}).get("bot") or data.get("edited_timestamp") is None:
        return False
    before = payload.cached_message
    if before is None or "content" not in data:
        return True  # not cached: it may have changed
    attachments = [str(item.get("id")) for item in data.get("attachments", [])]
    return (before.content != data["content"]
            or [str(a.id) for a in before.attachments] != attachments)


def forgotten(removed: Removed, language: str = DEFAULT_LANGUAGE) -> str:
    """What forget-me erased, for the member (in ``language``)."""
    return t(language, "privacy.forgotten",
             turns=text("privacy.turns", count=removed.turns),
             preferences=text("privacy.preferences", count=removed.preferences),
             usage=text("privacy.usage_records", count=removed.usage))


class OmnicordPrivacy(commands.Cog):
    """Erases what members delete or ask to be forgotten, and what outlived the retention."""

    def __init__(self, bot: commands.Bot, runtime: Runtime) -> None:
        self.bot = bot
        self.runtime = runtime
        self._missed: asyncio.Task[int] | None = None

    @property
    def erasures(self) -> Erasures:
        """The core's erasures over the store and media cache."""
        return self.runtime.services.privacy

    async def cog_load(self) -> None:
        add_commands(self.bot, forget_group)
        self.erasures.delete_messages = self.delete_own
        if self.runtime.settings.retention_days > 0:
            self.prune_daily.start()

    async def cog_unload(self) -> None:
        if self._missed is not None:
            self._missed.cancel()
        self.prune_daily.cancel()
        self.erasures.delete_messages = None
        remove_commands(self.bot, forget_group)
        await release(self.bot)

    @commands.Cog.listener()
    async def on_raw_message_delete(self, payload: discord.RawMessageDeleteEvent) -> None:
        await self.erase([payload.message_id], payload.channel_id)

    @commands.Cog.listener()
    async def on_raw_bulk_message_delete(
        self, payload: discord.RawBulkMessageDeleteEvent
    ) -> None:
        await self.erase(payload.message_ids, payload.channel_id)

    @commands.Cog.listener()
    async def on_raw_message_edit(self, payload: discord.RawMessageUpdateEvent) -> None:
        """A member who edits a message (its words or its attachments) takes back what it
        said: its stored turn goes, and a reply still under way is not stored."""
        if not members_edit(payload):
            return
        try:
            removed = await self.erasures.message_edited(str(payload.message_id))
        except Exception:
            log.warning("could not erase the turn of an edited message", exc_info=True)
            return
        if removed.turns:
            log.info("erased %d turns whose messages were edited", removed.turns)
        # Then (never before the erasure) the chat cog may answer the new words.
        self.bot.dispatch("omnicord_question_edited", payload, removed)

    @commands.Cog.listener()
    async def on_ready(self) -> None:
        """A new gateway session (the start, or a reconnect Discord could not resume): look
        for messages deleted while no events came."""
        if self._missed is None or self._missed.done():
            self._missed = asyncio.create_task(self.erase_missed_deletions(),
                                               name="omnicord-missed-deletions")

    async def erase_missed_deletions(self) -> int:
        """Erase the turns of recent messages Discord no longer has; how many went."""
        try:
            sources = await self.erasures.recent_sources()
            vanished = await vanished_messages(self.bot, sources)
            erased = 0
            for channel_id, message_ids in vanished.items():
                removed = await self.erasures.messages_deleted(message_ids,
                                                               channel_id=channel_id)
                erased += removed.turns
        except Exception:
            log.warning("could not look for messages deleted while away", exc_info=True)
            return 0
        log.info("checked %d recent turns for messages deleted while away: %d erased",
                 len(sources), erased)
        return erased

    async def erase(self, message_ids: Iterable[int], channel_id: int) -> None:
        """Erase the turns deleted messages made or answered, and delete Omnicord's replies to
        the members' ones (failures are logged)."""
        try:
            removed = await self.erasures.messages_deleted(
                [str(i) for i in sorted(message_ids)], channel_id=str(channel_id))
        except Exception:
            log.warning("could not erase the turns of deleted messages", exc_info=True)
            return
        if removed.turns:
            log.info("erased %d turns whose messages were deleted", removed.turns)

    async def delete_own(self, channel_id: str, message_ids: Sequence[str]) -> None:
        """Delete Omnicord's own messages in a channel, thread or DM, one by one; those already
        gone are skipped quietly, other failures logged."""
        channel = self.bot.get_partial_messageable(int(channel_id))
        deleted = 0
        for message_id in message_ids:
            try:
                await channel.get_partial_message(int(message_id)).delete()
                deleted += 1
            except discord.HTTPException as error:
                if not is_gone(error):
                    log.warning("could not delete reply %s in channel %s: %s", message_id,
                                channel_id, error)
            except Exception:  # never fails the erasure, or the reply, that asked for it
                log.warning("could not delete reply %s in channel %s", message_id, channel_id,
                            exc_info=True)
        if deleted:
            log.info("deleted %d reply messages whose question was deleted", deleted)

    @tasks.loop(hours=24)
    async def prune_daily(self) -> None:
        """Prune turns past OMNICORD_RETENTION_DAYS: once at start-up, then every day."""
        try:
            removed = await self.erasures.prune_expired()
        except Exception:
            log.warning("retention: pruning old turns failed", exc_info=True)
            return
        if removed is not None:
            log.info("retention: pruned %d turns and %d usage rows", removed.turns,
                     removed.usage)


class ConfirmForget(discord.ui.View):
    """The buttons under ``/omni forget me``: only the member who asked can press them, and
    nothing happens unless they confirm before the view times out. The message is ephemeral,
    so the buttons and answers are in the member's language (``language``)."""

    def __init__(self, erasures: Erasures, user_id: int,
                 *, timeout: float = CONFIRM_SECONDS,
                 language: str = DEFAULT_LANGUAGE) -> None:
        super().__init__(timeout=timeout)
        self.erasures = erasures
        self.user_id = user_id
        self.language = language
        self.asked: discord.Interaction | None = None  # the command, to edit on time-out
        self.confirm.label = t(language, "privacy.confirm_button")
        self.cancel.label = t(language, "privacy.cancel_button")

    async def interaction_check(self, interaction: discord.Interaction) -> bool:
        if interaction.user.id == self.user_id:
            return True
        await interaction.response.send_message(NOT_YOURS.render(member_language(interaction)),
                                                ephemeral=True, allowed_mentions=NO_PINGS)
        return False

    @discord.ui.button(label="Forget me", style=discord.ButtonStyle.danger)
    async def confirm(self, interaction: discord.Interaction,
                      _: discord.ui.Button[ConfirmForget]) -> None:
        self.stop()
        await interaction.response.defer()  # erasing a long history may take a while
        removed = await self.erasures.forget_member(str(self.user_id))
        await interaction.edit_original_response(content=forgotten(removed, self.language),
                                                 view=None, allowed_mentions=NO_PINGS)

    @discord.ui.button(label="Cancel", style=discord.ButtonStyle.secondary)
    async def cancel(self, interaction: discord.Interaction,
                     _: discord.ui.Button[ConfirmForget]) -> None:
        self.stop()
        await interaction.response.edit_message(content=CANCELLED.render(self.language),
                                                view=None, allowed_mentions=NO_PINGS)

    async def on_timeout(self) -> None:
        if self.asked is not None:
            with contextlib.suppress(discord.HTTPException):
                await self.asked.edit_original_response(
                    content=TIMED_OUT.render(self.language), view=None,
                    allowed_mentions=NO_PINGS)

    async def on_error(self, interaction: discord.Interaction, error: Exception,
                       item: discord.ui.Item[ConfirmForget]) -> None:
        shown = f"⚠️ {friendly(error, language=member_language(interaction))}"
        with contextlib.suppress(discord.HTTPException):
            await answer_privately(interaction, shown)


forget_group = app_commands.Group(name="forget", description="Erase what Omnicord keeps")


@forget_group.command(name="me", description="Erase everything Omnicord keeps about you, in "
                      "every server and DM")
async def forget_me(interaction: discord.Interaction) -> None:
    """``/omni forget me``: ask for confirmation with a button only the member can press."""
    language = member_language(interaction)
    cog = cog_of(interaction, OmnicordPrivacy)
    if not isinstance(cog, OmnicordPrivacy):
        await interaction.response.send_message(t(language, "privacy.not_loaded"),
                                                ephemeral=True)
        return
    view = ConfirmForget(cog.erasures, interaction.user.id, timeout=CONFIRM_SECONDS,
                         language=language)
    view.asked = interaction
    await interaction.response.send_message(ASK.render(language), view=view, ephemeral=True,
                                            allowed_mentions=NO_PINGS)


async def setup(bot: commands.Bot) -> None:
    """Load the privacy cog."""
    await setup_cog(bot, OmnicordPrivacy)
