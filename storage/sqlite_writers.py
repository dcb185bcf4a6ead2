"""SQLite's writers queued across processes: an `flock` on `<database>-writer`.

Within one process the writers of an engine queue in the event loop (`WriterGate`), each
woken the moment the one before is done. Between processes (a `dispatchbot` command
beside a running bot, or two processes sharing the file) they met SQLite's busy handler
instead, which sleeps 1, 2, 5, 10 … up to 100 ms between tries: a writer often slept on
while the lock was free (measured with two processes writing at a rush: waits of 54 and
110 ms for a lock held a millisecond at a time; docs/performance.md).

So each engine's gate also takes an exclusive `flock` on a file beside the database for
the length of its write transaction: at once when it is free (one system call on the
event loop), else in a thread of its own, which the kernel wakes the moment the other
process lets go. It only orders the writers: SQLite's own lock still decides, so
a writer that does not take it (the `sqlite3` shell, an older version) and a file that
cannot be made (a read-only folder) cost waits, never a wrong result. A process that dies
lets go with its file. The database file itself is not used for it: closing any other
handle to it would drop the locks SQLite holds there.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import logging
import os
import threading
import weakref

log = logging.getLogger(__name__)


def writer_file(database: str) -> str | None:
    """The lock file of a database file; None for an in-memory one."""
    if not database or database == ":memory:" or database.startswith("file:"):
        return None
    return f"{database}-writer"


class FileGate:
    """This engine's place in the queue of every process's writers to one database."""

    def __init__(self, path: str) -> None:
        self.path = path
        self._fd: int | None = None
        self._failed = False

    def _fileno(self) -> int | None:
        if self._fd is None and not self._failed:
            try:
                self._fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
            except OSError as e:
                self._failed = True
                log.warning("sqlite: no writer queue across processes (%s): %s", self.path, e)
            else:  # closed with the engine that holds this gate
                weakref.finalize(self, os.close, self._fd)
        return self._fd

    async def take(self, timeout: float) -> None:  # noqa: ASYNC109
        """Hold the file: at once if free, else when the process holding it lets go.
        Cancelled or out of time, the wait still ends in the thread and lets go then."""
        fd = self._fileno()
        if fd is None:
            return
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return
        except BlockingIOError:
            pass
        loop = asyncio.get_running_loop()
        waited: asyncio.Future[None] = loop.create_future()

        def wait() -> None:  # a daemon: a wait never holds up the interpreter's exit
            with contextlib.suppress(OSError):  # no file lock then: SQLite's decides
                fcntl.flock(fd, fcntl.LOCK_EX)
            try:
                loop.call_soon_threadsafe(_settle, waited)
            except RuntimeError:  # the loop is gone: nobody will let go for us
                self.give_back()

        threading.Thread(target=wait, name="sqlite-writer", daemon=True).start()
        try:
            async with asyncio.timeout(timeout):
                await asyncio.shield(waited)
        except BaseException:
            waited.add_done_callback(lambda _done: self.give_back())
            raise

    def give_back(self) -> None:
        if self._fd is not None:
            with contextlib.suppress(OSError):
                fcntl.flock(self._fd, fcntl.LOCK_UN)


def _settle(future: asyncio.Future[None]) -> None:
    if not future.done():
        future.set_result(None)
