"""A real ``omnicord`` process whose Discord is the local fake: ``python -m
tests.doubles.run_omnicord run`` points discord.py's REST base (``discord.http.Route.BASE``)
at ``OMNICORD_TEST_DISCORD_API`` (``FakeDiscord.api_base``), then runs ``omnicord`` with the
given arguments. The gateway URL comes from the fake's ``GET /gateway/bot``
(``ws_gateway.SocketGateway``), so nothing else is changed."""

from __future__ import annotations

import os
import sys

import discord.http
from omnicord.cli import main

if __name__ == "__main__":
    discord.http.Route.BASE = os.environ["OMNICORD_TEST_DISCORD_API"]
    sys.exit(main(sys.argv[1:]))
