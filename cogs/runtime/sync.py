"""Slash commands synced only when they changed.

Discord rate-limits syncing, and every process of a sharded bot starts with the same command
tree. So the store keeps a hash of the tree last synced per application (sha256 of the
canonical JSON of exactly what a sync sends, global and per-guild, and the application id): a
start with an unchanged tree syncs nothing; a changed tree is synced by the one process that
claims it (``Store.claim_command_sync``), and the hash is stored only after Discord accepted
the sync, so a failed sync is retried at the next start and never stops the bot.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
from typing import Any

import discord
from discord import app_commands
from discord.ext import commands
from omnicord.cogs.discord_internals import guilds_with_commands, guilds_with_context_menus
from omnicord.cogs.runtime.shared import current
from omnicord.store import Store

log = logging.getLogger("omnicord.sync")

#: Seconds a start waits for the sync (discord.py sleeps through rate limits, which can be
#: long) before going on without it; the next start tries again.
SYNC_TIMEOUT = 60.0

AnyBot = commands.Bot | commands.AutoShardedBot
Tree = app_commands.CommandTree[Any]


def guild_ids(tree: Tree) -> list[int]:
    """The guilds the tree holds commands for (guild-only commands and context menus)."""
    return sorted(guilds_with_commands(tree) | guilds_with_context_menus(tree))


async def payloads(tree: Tree, guild_id: int | None = None) -> list[dict[str, Any]]:
    """What ``tree.sync`` sends for the global commands (or one guild's), sorted by type and
    name: discord.py's own ``to_dict(tree)``, translated when the tree has a translator."""
    guild = discord.Object(guild_id) if guild_id is not None else None
    translator = tree.translator
    found = [await command.get_translated_payload(tree, translator) if translator
             else command.to_dict(tree) for command in tree.get_commands(guild=guild)]
    return sorted(found, key=lambda payload: (int(payload.get("type") or 1), payload["name"]))


async def tree_hash(tree: Tree, application_id: int) -> str:
    """sha256 of the application id and every payload a full sync sends, as canonical JSON."""
    everything = {"application_id": str(application_id), "global": await payloads(tree),
                  "guilds": {str(guild): await payloads(tree, guild)
                             for guild in guild_ids(tree)}}
    text = json.dumps(everything, sort_keys=True, separators=(",", ":"), ensure_ascii=False,
                      default=str)
    return hashlib.sha256(text.encode()).hexdigest()


async def sync_all(tree: Tree) -> int:
    """Sync the global commands and every guild's; how many top-level commands Discord now
    has (global and per-guild)."""
    synced = len(await tree.sync())
    for guild in guild_ids(tree):
        synced += len(await tree.sync(guild=discord.Object(guild)))
    return synced


async def sync_if_changed(bot: AnyBot, store: Store | None = None) -> int | None:
    """Sync the bot's tree unless the store says this tree was synced already; the number of
    commands synced, or None when nothing was (unchanged, another process syncing, or a
    failure, logged as a warning). ``store`` defaults to the cogs' shared runtime's."""
    if store is None:
        runtime = current(bot)
        store = runtime.services.store if runtime is not None else None
    if store is None or bot.application_id is None:
        return await _sync_logged(bot)
    application = str(bot.application_id)
    wanted = await tree_hash(bot.tree, bot.application_id)
    if await store.command_tree_hash(application) == wanted:
        log.info("slash commands unchanged, not synced")
        return None
    claim = await store.claim_command_sync(application, wanted)
    if claim is None:
        log.info("slash commands synced or being synced by another process; not synced here")
        return None
    try:
        synced = await _sync_logged(bot)
    except BaseException:  # cancelled: leave the hash, so the next start retries
        await store.release_command_sync(application, claim)
        raise
    if synced is None:  # failed, and logged: likewise
        await store.release_command_sync(application, claim)
        return None
    await store.set_command_tree_hash(application, wanted, claim=claim)
    return synced


async def force_sync(bot: AnyBot, store: Store) -> int:
    """Sync the bot's tree now, whatever the store says, and record its hash. Discord's
    refusal (``discord.HTTPException``) propagates, and then nothing is recorded."""
    assert bot.application_id is not None  # known once logged in
    wanted = await tree_hash(bot.tree, bot.application_id)
    synced = await sync_all(bot.tree)
    await store.set_command_tree_hash(str(bot.application_id), wanted)
    log.info("synced %d slash commands", synced)
    return synced


async def _sync_logged(bot: AnyBot) -> int | None:
    """``sync_all`` within ``SYNC_TIMEOUT``, its failure logged as a warning (None) rather
    than raised."""
    try:
        async with asyncio.timeout(SYNC_TIMEOUT):
            synced = await sync_all(bot.tree)
    except TimeoutError:
        log.warning("slash commands not synced within %.0f s (rate limited?); the next start "
                    "tries again", SYNC_TIMEOUT)
        return None
    except (discord.HTTPException, discord.RateLimited, app_commands.AppCommandError) as error:
        log.warning("could not sync slash commands (%s); the next start tries again", error)
        return None
    log.info("synced %d slash commands", synced)
    return synced
