"""Running Pillow work in a child process, where a timeout or a cancellation really stops it.

A thread cannot be stopped: a Pillow job that overran its timeout would keep its CPU and memory
after its job slot was handed on. So each image job runs in a fresh ``python -m
omnicord.media.worker`` process, under the same one-per-CPU bound as ffmpeg, killed on timeout or
cancellation, with its address space capped so an allocation no estimate foresaw fails inside
the child instead of swelling the bot. Arguments and results cross the pipe pickled; the child
is our own code, so unpickling its answer is safe.
"""

from __future__ import annotations

import asyncio
import os
import pickle
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

from omnicord.errors import MediaError
from omnicord.i18n import text
from omnicord.media.children import spawn_child
from omnicord.media.ffmpeg import communicate_or_kill, job_slot

T = TypeVar("T")

#: Address space one worker may map: far above what a bounded job needs (about 300 MB), low
#: enough that a runaway allocation fails in the worker rather than starving the machine.
WORKER_MEMORY_LIMIT = 1536 * 1024 * 1024
FAILED = text("errors.processing_failed")
#: The folder holding the ``bot`` package, so the child imports this same code.
_ROOT = str(Path(__file__).resolve().parent.parent.parent)


async def run_in_process(function: Callable[..., T], *args: Any, timeout: float) -> T:
    """Call module-level ``function(*args)`` in a fresh worker process; MediaError on failure.

    The worker is killed, and gone before this returns, when ``timeout`` passes or the caller
    is cancelled. A MediaError raised by ``function`` is raised here.
    """
    payload = pickle.dumps((function, args))
    async with job_slot():
        process = await spawn_child(
            sys.executable, "-m", "omnicord.media.worker",
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
            env=_child_env(),
        )
        out, _ = await communicate_or_kill(process, payload, timeout, doing="Processing")
    if process.returncode != 0 or not out:
        raise MediaError(FAILED)  # killed by the system, or crashed in native code
    try:
        done, value = await asyncio.to_thread(pickle.loads, out)
    except Exception:
        raise MediaError(FAILED) from None
    if not done:
        raise value from None
    return value


def _child_env() -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, (_ROOT, env.get("PYTHONPATH"))))
    env["MALLOC_ARENA_MAX"] = "2"  # per-thread malloc arenas would eat the address-space cap
    return env


def _limit_memory() -> None:
    try:
        import resource

        resource.setrlimit(resource.RLIMIT_AS, (WORKER_MEMORY_LIMIT, WORKER_MEMORY_LIMIT))
    except (ImportError, ValueError, OSError):
        pass  # no such limit on this system: the job's own size checks still hold


def _answer(function: Callable[..., Any], args: tuple[Any, ...]) -> tuple[bool, Any]:
    try:
        return True, function(*args)
    except MediaError as error:
        return False, MediaError(error.text or str(error))  # its own type may not unpickle
    except MemoryError:
        return False, MediaError(text("errors.too_large_to_process"))
    except Exception:
        return False, MediaError(FAILED)


def main() -> None:
    """Worker entry point: read one pickled call from stdin, write its pickled outcome."""
    _limit_memory()
    # Only the answer goes to stdout: anything a library prints goes to stderr instead.
    answer_out = os.fdopen(os.dup(sys.stdout.fileno()), "wb")
    os.dup2(sys.stderr.fileno(), sys.stdout.fileno())
    function, args = pickle.load(sys.stdin.buffer)
    answer = _answer(function, args)
    with answer_out:
        answer_out.write(pickle.dumps(answer))


if __name__ == "__main__":
    main()
