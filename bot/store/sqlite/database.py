"""One SQLite file, safe under concurrent coroutines and processes.

Each connection lives in its own single thread: one writer, one reader. A write is a plain
function run by the writer thread inside ``BEGIN IMMEDIATE … COMMIT`` in one hop, so writes are
serialized in arrival order, a transaction can never interleave with another coroutine's work,
and a cancelled caller cannot leave a transaction half open (the function runs to its commit or
rollback either way). Other processes are kept out by SQLite's own write lock, waited on for up
to ``busy_timeout`` seconds. In WAL mode the reader never waits behind a write.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import queue
import sqlite3
import threading
from collections.abc import Callable, Hashable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from omnicord.store.errors import StoreUnavailable

T = TypeVar("T")
Work = Callable[[sqlite3.Connection], T]

MEMORY = ":memory:"
DEFAULT_BUSY_TIMEOUT = 30.0


def _describe(error: BaseException) -> str:
    text = str(error).strip() or type(error).__name__
    if "not a database" in text or "malformed" in text:
        return "it is not an Omnicord database (SQLite) file"
    if "unable to open" in text or isinstance(error, IsADirectoryError):
        return "the file cannot be opened there (is it a folder, or is the folder read-only?)"
    return text


_MAX_COMBINED = 200  # calls per combined statement: far below SQLite's 32,766 bound variables


@dataclass(frozen=True)
class Combinable:
    """A call that can share one statement with calls of the same ``kind`` queued beside it.

    ``run_all(conn, args)`` does the work for every argument at once and returns one result
    per argument, in order.
    """

    kind: Hashable
    arg: Any
    run_all: Callable[[sqlite3.Connection, list[Any]], list[Any]]


@dataclass
class _Job:
    work: Work[Any] | None
    combinable: Combinable | None
    loop: asyncio.AbstractEventLoop
    future: asyncio.Future[Any]
    outcome: tuple[bool, Any] = (False, None)


class _Connection:
    """A sqlite3 connection confined to one worker thread.

    The thread takes every job queued since it last looked, runs them one after another and
    hands all their results back to the event loop in one call: under load, a burst of calls
    costs one thread wake-up and one loop wake-up instead of one each.
    """

    def __init__(self, path: str, name: str, busy_timeout: float, *, read_only: bool) -> None:
        self._path = path
        self._busy_timeout = busy_timeout
        self._read_only = read_only
        self._conn: sqlite3.Connection | None = None
        self._jobs: queue.SimpleQueue[_Job | None] = queue.SimpleQueue()
        self._thread = threading.Thread(target=self._serve, name=name, daemon=True)
        self._thread.start()

    async def start(self) -> None:
        await self.call(lambda _: None)

    async def call(self, work: Work[T]) -> T:
        result: T = await self._queue(work, None)
        return result

    async def combine(self, call: Combinable) -> Any:
        """Run ``call``, in one statement with calls of its kind queued beside it."""
        return await self._queue(None, call)

    async def _queue(self, work: Work[Any] | None, combinable: Combinable | None) -> Any:
        loop = asyncio.get_running_loop()
        future: asyncio.Future[Any] = loop.create_future()
        self._jobs.put(_Job(work, combinable, loop, future))
        return await future

    async def close(self) -> None:
        self._jobs.put(None)
        await asyncio.to_thread(self._thread.join)

    def _serve(self) -> None:
        while True:
            batch = [self._jobs.get()]
            with contextlib.suppress(queue.Empty):
                while True:
                    batch.append(self._jobs.get_nowait())
            jobs = [job for job in batch if job is not None]
            # A caller gone before its turn has its work skipped.
            for group in _groups(job for job in jobs if not job.future.cancelled()):
                self._run_group(group)
            for loop in {job.loop for job in jobs}:
                mine = [job for job in jobs if job.loop is loop]
                with contextlib.suppress(RuntimeError):  # that loop is closed
                    loop.call_soon_threadsafe(_deliver, mine)
            if len(jobs) < len(batch):
                self._shut()
                return

    def _run_group(self, group: list[_Job]) -> None:
        """Run one job, or a run of combinable calls of one kind as one call.

        Combined, a burst costs one statement, one commit and one hand-over of the GIL (which
        a busy event loop makes expensive) instead of one each. If the combined call fails,
        each call is retried alone so that only the one at fault fails; a locked or broken
        database fails them all.
        """
        first = group[0]
        if first.combinable is None:
            assert first.work is not None
            first.outcome = self._run(first.work)
            return
        run_all = first.combinable.run_all
        args = [job.combinable.arg for job in group]  # type: ignore[union-attr]
        succeeded, value = self._run(lambda db: run_all(db, args))
        if succeeded:
            for job, result in zip(group, value, strict=True):
                job.outcome = (True, result)
        elif len(group) == 1 or isinstance(value, sqlite3.OperationalError):
            for job in group:
                job.outcome = (False, value)
        else:
            for job, arg in zip(group, args, strict=True):
                job.outcome = self._run(functools.partial(_run_one, run_all, arg))

    def _run(self, work: Work[Any]) -> tuple[bool, Any]:
        try:
            return True, work(self._ensure())
        except BaseException as error:
            return False, error

    def _ensure(self) -> sqlite3.Connection:
        if self._conn is None:
            conn = sqlite3.connect(self._path, timeout=self._busy_timeout,
                                   isolation_level=None, check_same_thread=False)
            conn.row_factory = sqlite3.Row
            try:
                conn.execute("PRAGMA foreign_keys = ON")
                if self._read_only:
                    conn.execute("PRAGMA query_only = ON")
                else:
                    # Deleted rows are overwritten with zeros, not merely unlinked: an
                    # erasure leaves no text in the file's free pages (builds differ in the
                    # default, so it is set, not assumed).
                    conn.execute("PRAGMA secure_delete = ON")
            except BaseException:
                conn.close()
                raise
            self._conn = conn
        return self._conn

    def _shut(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None


def _run_one(run_all: Callable[[sqlite3.Connection, list[Any]], list[Any]], arg: Any,
             conn: sqlite3.Connection) -> Any:
    return run_all(conn, [arg])[0]


def _groups(jobs: Iterable[_Job]) -> Iterator[list[_Job]]:
    """Consecutive combinable calls of one kind (up to a statement's worth), else single jobs."""
    group: list[_Job] = []
    for job in jobs:
        kind = job.combinable.kind if job.combinable is not None else None
        if group and (kind is None or group[0].combinable is None
                      or group[0].combinable.kind != kind or len(group) >= _MAX_COMBINED):
            yield group
            group = []
        group.append(job)
    if group:
        yield group


def _deliver(jobs: list[_Job]) -> None:
    for job in jobs:
        if job.future.done():
            continue
        succeeded, value = job.outcome
        if succeeded:
            job.future.set_result(value)
        else:
            job.future.set_exception(value)


def in_transaction(conn: sqlite3.Connection, work: Work[T]) -> T:
    """Run ``work`` in one immediate transaction on ``conn`` (the writer's thread)."""
    return _transaction(work)(conn)


def _transaction(work: Work[T]) -> Work[T]:
    def run(conn: sqlite3.Connection) -> T:
        if conn.in_transaction:  # never join a transaction something else left open
            conn.execute("ROLLBACK")
        conn.execute("BEGIN IMMEDIATE")
        try:
            result = work(conn)
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        conn.execute("COMMIT")
        return result

    return run


class SqliteDatabase:
    """A writer and a reader connection to one SQLite file (or one in-memory database)."""

    def __init__(self, path: str | Path, *, busy_timeout: float = DEFAULT_BUSY_TIMEOUT) -> None:
        self.path = str(path)
        self.busy_timeout = busy_timeout
        self._writer: _Connection | None = None
        self._reader: _Connection | None = None

    @property
    def in_memory(self) -> bool:
        """Whether the database lives only in this process."""
        return self.path == MEMORY or self.path.startswith("file::memory:")

    async def open(self, prepare: Work[object] | None = None) -> None:
        """Connect, switch to WAL and run ``prepare`` (migrations) in one immediate transaction
        in the writer thread: one process does it, the others wait on the write lock and then
        find nothing left to do.

        Any failure closes what was opened and becomes one ``StoreUnavailable`` line.
        """
        try:
            if not self.in_memory:
                from omnicord.files import private_database

                private_database(Path(self.path))
            self._writer = _Connection(self.path, "omnicord-db-write", self.busy_timeout,
                                       read_only=False)
            await self._writer.call(_enable_wal)
            if prepare is not None:
                await self._writer.call(_transaction(prepare))
            if not self.in_memory:
                self._reader = _Connection(self.path, "omnicord-db-read", self.busy_timeout,
                                           read_only=True)
                await self._reader.start()
        except (sqlite3.Error, OSError) as error:
            await self.close()
            raise StoreUnavailable(f"OMNICORD_DB: cannot use {self.path}: {_describe(error)}"
                                   ) from None
        except BaseException:
            await self.close()
            raise

    async def close(self) -> None:
        """Close both connections and stop their threads."""
        for connection in (self._reader, self._writer):
            if connection is not None:
                await connection.close()
        self._reader = self._writer = None

    async def write(self, work: Work[T]) -> T:
        """Run ``work`` in one immediate transaction: committed if it returns, else rolled back."""
        return await self._require(self._writer).call(_transaction(work))

    async def checkpoint(self) -> None:
        """Copy the write-ahead log into the database file and truncate it to nothing, so
        pages that held erased rows are gone from the ``-wal`` file too. Waits (up to the busy
        timeout) for readers of other processes to move past the old pages."""
        if not self.in_memory:
            await self._require(self._writer).call(_truncate_wal)

    async def write_combined(self, call: Combinable) -> Any:
        """Run ``call`` on the writer: its ``run_all`` must be atomic on its own (one statement,
        or its own transaction). Calls queued while the writer was busy share it, so a burst
        of turns costs one commit, not one each."""
        return await self._require(self._writer).combine(call)

    async def read_combined(self, call: Combinable) -> Any:
        """Run ``call`` on the reader, sharing one query with calls of its kind queued beside
        it."""
        return await self._require(self._reader or self._writer).combine(call)

    async def read(self, work: Work[T]) -> T:
        """Run ``work`` on the reader, which sees every committed write and never waits on one."""
        return await self._require(self._reader or self._writer).call(work)

    @staticmethod
    def _require(connection: _Connection | None) -> _Connection:
        if connection is None:
            raise RuntimeError("the database is not open")
        return connection


def _enable_wal(conn: sqlite3.Connection) -> None:
    conn.execute("PRAGMA journal_mode = WAL")
    # WAL with NORMAL sync never corrupts; only a power cut can lose the last commits.
    conn.execute("PRAGMA synchronous = NORMAL")


def _truncate_wal(conn: sqlite3.Connection) -> None:
    busy, _, _ = conn.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()
    if busy:
        raise sqlite3.OperationalError("the write-ahead log could not be truncated: a reader "
                                       "held it past the busy timeout")


def backup_sqlite(source: Path, target: Path) -> int:
    """Write a consistent snapshot of the database ``source`` to ``target`` with SQLite's
    backup API (safe while other connections write); returns the pages copied. Blocking."""
    if not source.is_file():
        raise StoreUnavailable(f"OMNICORD_DB: there is no database at {source}")
    if target.exists():
        raise StoreUnavailable(f"{target} already exists: name a new file for the backup")
    try:
        with contextlib.closing(sqlite3.connect(source)) as live, \
                contextlib.closing(sqlite3.connect(target)) as copy:
            live.backup(copy)
            return int(copy.execute("PRAGMA page_count").fetchone()[0])
    except sqlite3.Error as error:
        target.unlink(missing_ok=True)
        raise StoreUnavailable(f"cannot back up {source} to {target}: {_describe(error)}"
                               ) from None
