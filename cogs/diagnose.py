"""``omnicord doctor``'s Discord checks: the token, the Message Content intent, and the bot's
permissions in every server it is in, read from Discord's REST API (no gateway)."""

from __future__ import annotations

import asyncio
from typing import Any

import aiohttp
import discord
from omnicord.checks import FAIL, NOTE, OK, Check
from omnicord.cogs.discord_internals import RestApi
from omnicord.cogs.reach import unreachable

#: Application flags: the Message Content intent, approved (verified bots) or switched on.
GATEWAY_MESSAGE_CONTENT = 1 << 18
GATEWAY_MESSAGE_CONTENT_LIMITED = 1 << 19
#: The longest the doctor waits for Discord, all requests together.
DISCORD_TIMEOUT = 60.0
GUILD_PAGE = 200
#: At most this many servers are named one by one; the rest are counted.
MAX_LISTED = 25
REFUSED_FIX = "copy the bot token again from the developer portal (Bot → Reset Token)"


async def diagnose_discord(token: str, *, message_content: bool) -> list[Check]:
    """Every Discord check for this token; failures are lines, never exceptions."""
    http = RestApi(max_ratelimit_timeout=30.0)
    try:
        async with asyncio.timeout(DISCORD_TIMEOUT):
            return await _diagnose(http, token, message_content)
    except discord.LoginFailure:
        return [Check(FAIL, "Discord token", "DISCORD_TOKEN was refused by Discord (HTTP 401)",
                      REFUSED_FIX)]
    except discord.HTTPException as error:
        return [Check(FAIL, "Discord", f"Discord answered HTTP {error.status}",
                      "try again later; https://discordstatus.com says whether Discord is down")]
    except (aiohttp.ClientError, OSError, TimeoutError) as error:
        return [Check(FAIL, "Discord", unreachable(error).replace("Could", "could", 1),
                      "check this machine's network and firewall")]
    except (KeyError, TypeError, ValueError, AttributeError) as error:  # a reply of odd shape
        return [Check(FAIL, "Discord", f"Discord's reply could not be read "
                      f"({type(error).__name__})", "run the doctor again later; if it "
                      "persists, report it with `omnicord doctor` output")]
    finally:
        await http.close()


async def _diagnose(http: RestApi, token: str, message_content: bool) -> list[Check]:
    me = _mapping(await http.login(token))
    name = f"{me.get('username') or 'unnamed'} ({me.get('id') or 'no id'})"
    checks = [Check(OK, "Discord token", f"valid: the bot is {name}")]
    application = _mapping(await http.get("/applications/@me"))
    flags = _integer(application.get("flags"))
    checks.append(UNREADABLE_FLAGS if flags is None and message_content
                  else intent_check(flags or 0, message_content))
    application_id = _integer(application.get("id")) or _integer(me.get("id")) or 0
    checks += permission_checks(await _guilds(http), application_id)
    return checks


UNREADABLE_FLAGS = Check(FAIL, "Message Content intent", "Discord did not say whether it is on "
                         "(no application flags in GET /applications/@me)",
                         "check Bot → Privileged Gateway Intents → Message Content Intent in "
                         "the developer portal, then run the doctor again")


def _mapping(value: object) -> dict[str, Any]:
    """A JSON object from Discord, or an empty one if it sent something else."""
    return dict(value) if isinstance(value, dict) else {}


def _integer(value: object) -> int | None:
    """A number Discord sends as a string or an integer; None if it is missing or odd."""
    if isinstance(value, bool) or not isinstance(value, (int, str)):
        return None
    try:
        return int(value)
    except ValueError:
        return None


def intent_check(flags: int, message_content: bool) -> Check:
    """Whether the application may use the Message Content intent, if Omnicord needs it."""
    subject = "Message Content intent"
    if not message_content:
        return Check(OK, subject, "not needed (OMNICORD_MESSAGE_CONTENT=false)")
    if flags & (GATEWAY_MESSAGE_CONTENT | GATEWAY_MESSAGE_CONTENT_LIMITED):
        return Check(OK, subject, "enabled for this application")
    return Check(FAIL, subject, "off for this application, so `omnicord run` is refused",
                 "switch it on in the developer portal (Bot → Privileged Gateway Intents → "
                 "Message Content Intent), or set OMNICORD_MESSAGE_CONTENT=false to run "
                 "without it")


async def _guilds(http: RestApi) -> list[dict[str, Any]]:
    """Every server the bot is in (partial guilds, with the bot's ``permissions``)."""
    found: list[dict[str, Any]] = []
    while True:
        after = found[-1].get("id") if found else None
        page = await http.guilds(GUILD_PAGE, after=after)
        if not isinstance(page, list):
            return found
        found.extend(_mapping(guild) for guild in page)
        if len(page) < GUILD_PAGE or _integer(found[-1].get("id")) is None:
            return found  # a last server without an id: nothing to page on from


def missing_permissions(permissions: discord.Permissions) -> list[str]:
    """The names of the permissions Omnicord needs that ``permissions`` lacks."""
    from omnicord.cogs.runner import REQUIRED_PERMISSIONS

    if permissions.administrator:
        return []
    return [_title(flag) for flag, needed in REQUIRED_PERMISSIONS
            if needed and not getattr(permissions, flag)]


def permission_checks(guilds: list[dict[str, Any]], application_id: int) -> list[Check]:
    """One line per server missing a permission (or whose permissions Discord did not say,
    and a summary), or one ``ok`` line."""
    if not guilds:
        from omnicord.cogs.runner import invite_url

        return [Check(NOTE, "servers", "the bot is in no server yet",
                      f"invite it with {invite_url(application_id)}")]
    lacking = [(guild, problem) for guild in guilds if (problem := _server_problem(guild))]
    checks = [Check(FAIL, _server_name(guild), detail, fix)
              for guild, (detail, fix) in lacking[:MAX_LISTED]]
    if len(lacking) > MAX_LISTED:
        checks.append(Check(FAIL, "servers", f"{len(lacking) - MAX_LISTED} more servers miss "
                            "permissions", "give the Omnicord role the permissions above"))
    fine = len(guilds) - len(lacking)
    if fine:
        checks.append(Check(OK, "servers", f"{fine} of {len(guilds)} servers give the bot every "
                            "permission it needs (channel overrides are not checked)"))
    return checks


def _server_problem(guild: dict[str, Any]) -> tuple[str, str] | None:
    """What is wrong with the bot's permissions in a server, and how to fix it; None if
    nothing."""
    bits = _integer(guild.get("permissions"))
    if bits is None or bits < 0:
        return ("Discord did not say the bot's permissions here",
                "check that the Omnicord role has the permissions its invite link asks for, "
                "then run the doctor again")
    missing = missing_permissions(discord.Permissions(bits))
    if not missing:
        return None
    return f"missing {', '.join(missing)}", "give the Omnicord role these permissions"


def _server_name(guild: dict[str, Any]) -> str:
    name = guild.get("name")
    label = f"\"{name}\"" if isinstance(name, str) and name else "(unnamed)"
    return f"server {label} ({guild.get('id') or 'no id'})"


def _title(flag: str) -> str:
    """``send_messages_in_threads`` as Discord's settings name it: Send Messages in Threads."""
    return flag.replace("_", " ").title().replace(" In ", " in ")
