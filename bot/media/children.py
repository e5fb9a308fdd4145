"""Starting media work's child processes (ffmpeg, the image worker) so the bot stays responsive.

Each child gets a process group of its own, so Ctrl-C in a terminal (sent to the foreground
group) stops the bot but not a conversion it may still finish; and it stays in the bot's
session. That matters on Linux, where the scheduler's autogroups are per session: a child in a
session of its own (``start_new_session``) is weighed as a whole group against the bot, and
eight 1080p conversions starved the event loop for up to 180 ms at a time on two cores
(``bench/media.py``); in the bot's session, at a slightly lower priority, the loop's longest
stall was 13–27 ms. A child may still use every idle CPU: the niceness only decides who waits
when the CPUs are all busy, and stays mild so conversions on a busy host still end within
their timeouts.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
from typing import Any

#: How much lower than the bot's a child's priority is (``nice`` steps, 0–19).
CHILD_NICENESS = 5


async def spawn_child(program: str, *args: str, **options: Any) -> asyncio.subprocess.Process:
    """``asyncio.create_subprocess_exec`` with the child in a process group of its own and
    ``CHILD_NICENESS`` below the bot's priority."""
    process = await asyncio.create_subprocess_exec(program, *args, process_group=0, **options)
    lower_priority(process.pid)
    return process


def lower_priority(pid: int) -> None:
    """Lower a just-started child's priority (its threads started later inherit it); where
    the system offers no priorities, or the child is gone already, nothing happens."""
    if not hasattr(os, "setpriority"):  # Windows
        return
    with contextlib.suppress(OSError):
        niceness = os.getpriority(os.PRIO_PROCESS, 0) + CHILD_NICENESS
        os.setpriority(os.PRIO_PROCESS, pid, min(niceness, 19))
