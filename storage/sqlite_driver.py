"""SQLite for the async engine: one trip to the connection's thread per statement, none
for BEGIN IMMEDIATE, ROLLBACK and a quick statement inside the connection's write
transaction.

SQLite is a library, not a server: each connection lives on a thread of its own and
the event loop hands it work. aiosqlite, which the `sqlite+aiosqlite` dialect drives,
makes that trip for every step of a statement (make a cursor, execute, fetch the rows,
close the cursor), and each trip wakes a thread and then the event loop again. On the
bot's hot path those trips cost more than SQLite itself: a transaction of one `SELECT`
took nine of them. The connection here does a statement's steps in one trip and
answers the rest (columns, rows, row count) from what that trip brought back.

The dialect stays `sqlite+aiosqlite` (SQL, types, errors and DATABASE_URL unchanged);
`storage.engine.create_engine` hands this connection to it as the async creator.

SQLite has one writer at a time, and every transaction of the bot's starts with BEGIN
IMMEDIATE (storage/engine.py). A connection that finds the write lock taken waits in
SQLite's busy handler, which sleeps 1, 2, 5, 10 … up to 100 ms between tries: under a
rush the lock was often free while every waiter slept. The connections of one engine
therefore queue for the write lock in the event loop first (`WriterGate`), each woken
the moment the one before ends its transaction, and behind the other processes' writers
through a file lock (storage/sqlite_writers.py). The gate only orders the writers:
SQLite's lock still decides.

A trip costs 65-95 µs of CPU (a thread woken, then the event loop through its self-pipe),
an UPDATE of one row by its key 5 µs. Inside a transaction this connection began with BEGIN
IMMEDIATE it holds the write lock, so no statement waits on a lock there: the statements
registered as quick (`quick`: the hot ones built once, storage/prepared.py) then run on
the event loop's thread, when the connection's thread has no call queued or running.
BEGIN IMMEDIATE itself runs there too, with SQLite's busy timeout at 0 for that attempt:
once this process's writers before it are done (the gate) the lock is nearly always
free; if another process holds it (SQLITE_BUSY), it makes the trip and waits there as
before. So does ROLLBACK of such a transaction (in WAL it writes nothing, waits for
nothing). COMMIT (a flush), opening, closing, executemany, every other statement and
everything outside such a transaction still make the trip.
"""

from __future__ import annotations

import asyncio
import contextlib
import sqlite3
import threading
from collections.abc import Callable, Iterable, Sequence
from queue import SimpleQueue
from typing import Any, TypeVar

from storage.sqlite_writers import FileGate, writer_file

_T = TypeVar("_T")

#: What the connection's thread takes: the future to settle (None: settle nothing) and
#: the call to make. SQLAlchemy's adapter puts such pairs itself to set the isolation
#: level (it reaches for `_tx` and `_conn`, the names aiosqlite uses).
_Work = tuple[asyncio.Future[Any] | None, Callable[[], Any]]
#: How every transaction of the bot's begins on SQLite (storage/engine.py).
BEGIN_IMMEDIATE = "BEGIN IMMEDIATE"
_STOP = object()
#: The statements that may run on the event loop's thread (`quick`), by id; the objects
#: are kept, so an id is never reused.
_QUICK: dict[int, object] = {}


def quick(*statements: object) -> None:
    """Let `statements` (built once, short, by an index) skip the trip inside a write
    transaction. No report, export, scan or migration: they may run long."""
    for statement in statements:
        _QUICK[id(statement)] = statement


def is_quick(statement: object) -> bool:
    return id(statement) in _QUICK


def note_quick(
    conn: Any, _cursor: Any, sql: str, params: Any, context: Any, executemany: bool
) -> tuple[str, Any]:
    """SQLAlchemy's before_cursor_execute (storage/engine.py, `retval=True`: SQLAlchemy
    wraps a listener without it in one more call): tell the driver connection that the
    statement about to run, `sql`, is a quick one."""
    if not executemany and id(getattr(context, "invoked_statement", None)) in _QUICK:
        conn.connection.driver_connection.quick_next = sql
    return sql, params


class _Calls:
    """The calls for the connection's thread, counted in (the loop) and out (the thread):
    equal counts, and the thread is not touching the connection."""

    def __init__(self) -> None:
        self._queue: SimpleQueue[_Work] = SimpleQueue()
        #: Written by the event loop's thread only.
        self.sent = 0
        #: Written by the connection's thread only, once a call has returned.
        self.done = 0

    def put(self, work: _Work) -> None:
        self.sent += 1
        self._queue.put(work)

    #: SQLAlchemy's adapter sets the isolation level with `_tx.put_nowait`.
    put_nowait = put

    def get(self) -> _Work:
        return self._queue.get()

    @property
    def idle(self) -> bool:
        return self.sent == self.done


class WriterGate:
    """One engine's writers, queued in the event loop for SQLite's write lock."""

    def __init__(self, timeout: float, files: FileGate | None = None) -> None:
        self.timeout = timeout
        #: Writers waiting here now.
        self.queued = 0
        self._locks: dict[asyncio.AbstractEventLoop, asyncio.Lock] = {}
        #: The queue of the other processes' writers (storage/sqlite_writers.py).
        self.files = files

    def _lock(self) -> asyncio.Lock:
        loop = asyncio.get_running_loop()
        lock = self._locks.get(loop)
        if lock is None:
            self._locks = {k: v for k, v in self._locks.items() if not k.is_closed()}
            lock = self._locks[loop] = asyncio.Lock()
        return lock

    async def enter(self) -> asyncio.Lock:
        """Wait for this process's writer before us, then for the other processes' (the
        file); as long as SQLite would wait. `leave` lets the next one in."""
        lock = self._lock()
        if lock.locked() or self.queued:
            self.queued += 1
            try:
                async with asyncio.timeout(self.timeout):
                    await lock.acquire()
            except TimeoutError:
                raise sqlite3.OperationalError("database is locked") from None
            finally:
                self.queued -= 1
        else:  # free and nobody before us: no wait
            await lock.acquire()
        if self.files is not None:
            try:
                await self.files.take(self.timeout)
            except BaseException as e:
                lock.release()
                if isinstance(e, TimeoutError):
                    raise sqlite3.OperationalError("database is locked") from None
                raise
        return lock

    def leave(self, lock: asyncio.Lock) -> None:
        if self.files is not None:
            self.files.give_back()
        lock.release()


def _settle(future: asyncio.Future[Any], result: Any, error: BaseException | None) -> None:
    if future.cancelled():
        return
    if error is not None:
        future.set_exception(error)
    else:
        future.set_result(result)


def _serve(calls: _Calls) -> None:
    """The connection's thread: make each call, hand its outcome to the caller's loop."""
    while True:
        future, call = calls.get()
        try:
            result, error = call(), None
        except BaseException as e:  # handed to the awaiting task
            result, error = None, e
        calls.done += 1
        if future is not None:
            # RuntimeError: the loop closed meanwhile, and nobody waits for the answer.
            with contextlib.suppress(RuntimeError):
                future.get_loop().call_soon_threadsafe(_settle, future, result, error)
        if result is _STOP:
            return


class Connection:
    """One SQLite connection on a thread of its own (the aiosqlite interface SQLAlchemy's
    adapter uses, and no more). `connect` opens it with check_same_thread=False: quick
    statements use it from the event loop's thread, never while its own thread does."""

    def __init__(
        self, connect: Callable[[], sqlite3.Connection], gate: WriterGate | None = None
    ) -> None:
        self._connect = connect
        self._gate = gate
        #: The gate's lock while this connection's transaction holds it.
        self._holding: asyncio.Lock | None = None
        #: This connection began its open transaction with BEGIN IMMEDIATE.
        self._immediate = False
        #: SQLite's journal mode for this connection, once asked (`_wal`).
        self._journal: str | None = None
        #: SQLite's busy timeout (ms) for this connection, once asked (`_begun_here`): set
        #: by the engine's pragmas at connect, put back after each BEGIN tried here.
        self._busy_ms: int | None = None
        #: The SQL of the next statement if it is a quick one (`note_quick`).
        self.quick_next: str | None = None
        self._tx = _Calls()
        self._conn: sqlite3.Connection | None = None
        #: Closing was asked for: the thread takes no more work after that.
        self._ending = False
        self._thread = threading.Thread(target=_serve, args=(self._tx,), name="sqlite", daemon=True)
        self._thread.start()

    @property
    def is_open(self) -> bool:
        """Opened, and no close asked for."""
        return self._conn is not None and not self._ending

    @property
    def _connection(self) -> sqlite3.Connection | None:
        """Open or not: SQLAlchemy's adapter commits and rolls back only while it is."""
        return self._conn

    async def run(self, call: Callable[[], _T]) -> _T:
        if self._ending:
            raise ValueError("no active connection")  # its thread is gone or going
        future: asyncio.Future[_T] = asyncio.get_running_loop().create_future()
        self._tx.put((future, call))
        try:
            return await future
        finally:
            self._leave_when_done()

    async def begin(self, call: Callable[[], None]) -> None:
        """Run BEGIN IMMEDIATE after this process's writers before us (`WriterGate`): on
        the event loop's thread if the write lock is free at once, else by the trip."""
        if self._gate is not None and self._holding is None:
            self._holding = await self._gate.enter()
        try:
            if not self._begun_here(call):
                await self.run(call)
            self._immediate = self._conn is not None and self._conn.in_transaction
        finally:
            self._leave_when_done()

    def _begun_here(self, call: Callable[[], None]) -> bool:
        """Try `call` (BEGIN IMMEDIATE) on the event loop's thread with SQLite's busy
        timeout at 0, so that it cannot wait there: False if the connection's thread is
        busy or another connection (another process's) holds the write lock."""
        conn = self._conn
        if conn is None or self._ending or not self._tx.idle or conn.in_transaction:
            return False
        if self._busy_ms is None:
            (self._busy_ms,) = conn.execute("PRAGMA busy_timeout").fetchone()
        busy_ms = self._busy_ms
        conn.execute("PRAGMA busy_timeout = 0")
        try:
            call()
        except sqlite3.OperationalError as e:
            if e.sqlite_errorcode & 0xFF != sqlite3.SQLITE_BUSY:
                raise
            return False
        finally:
            conn.execute(f"PRAGMA busy_timeout = {int(busy_ms)}")
        return True

    def inline(self, sql: str) -> bool:
        """May `sql` run on the event loop's thread? Only a quick statement, in a write
        transaction of ours, while the connection's thread is idle (it then stays so: the
        loop is the only one to hand it work, and it is busy with this statement)."""
        noted, self.quick_next = self.quick_next, None
        return noted == sql and self.may_run_here()

    def may_run_here(self) -> bool:
        """In a write transaction of ours, with the connection's thread idle."""
        conn = self._conn
        return (
            self._immediate
            and not self._ending
            and conn is not None
            and conn.in_transaction
            and self._tx.idle
        )

    def execute_here(
        self, sql: str, parameters: Sequence[Any]
    ) -> tuple[list[Any], int, int | None]:
        """Run a quick statement on the event loop's thread (`may_run_here` said so): its
        rows, row count and last row id."""
        cursor = self._open_conn().cursor()
        try:
            cursor.execute(sql, parameters)
            rows = cursor.fetchall() if cursor.description else []
            return rows, cursor.rowcount, cursor.lastrowid
        finally:
            cursor.close()
            self._leave_when_done()  # SQLite may have rolled back

    def _leave_when_done(self) -> None:
        """Let the next writer in once no transaction is open here (committed, rolled
        back, failed to begin, or the connection closed)."""
        conn = self._conn
        if conn is None or not conn.in_transaction:
            self._immediate = False
        if self._holding is not None and (conn is None or not conn.in_transaction):
            lock, self._holding = self._holding, None
            assert self._gate is not None
            self._gate.leave(lock)

    async def open(self) -> Connection:
        def connect() -> None:
            self._conn = self._connect()

        await self.run(connect)
        return self

    def _open_conn(self) -> sqlite3.Connection:
        if self._conn is None:
            raise ValueError("no active connection")
        return self._conn

    def cursor(self) -> Cursor:
        return Cursor(self)

    async def commit(self) -> None:
        await self.run(lambda: self._open_conn().commit())

    async def rollback(self) -> None:
        # The pool rolls back every connection handed back, most of them committed a
        # moment ago: no transaction open, no trip (reading the flag is safe between
        # statements, and this connection runs one statement at a time).
        conn = self._open_conn()
        if not conn.in_transaction:
            return
        if self._immediate and not self._ending and self._tx.idle and self._wal(conn):
            try:  # in WAL a rollback writes nothing and waits for no lock: no trip
                conn.rollback()
            finally:
                self._leave_when_done()
            return
        await self.run(lambda: self._open_conn().rollback())

    def _wal(self, conn: sqlite3.Connection) -> bool:
        """Is `conn` in WAL mode (the engine's pragma)? Asked once per connection."""
        if self._journal is None:
            (self._journal,) = conn.execute("PRAGMA journal_mode").fetchone()
        return self._journal == "wal"

    async def create_function(self, *args: Any, **kwargs: Any) -> None:
        await self.run(lambda: self._open_conn().create_function(*args, **kwargs))

    def _close(self) -> object:
        conn, self._conn = self._conn, None
        if conn is not None:
            conn.close()
        return _STOP

    async def close(self) -> None:
        if self._ending:
            return
        future: asyncio.Future[object] = asyncio.get_running_loop().create_future()
        self._ending = True
        self._tx.put((future, self._close))
        try:
            await future
        finally:
            self._leave_when_done()

    def stop(self) -> None:
        """Close without waiting (SQLAlchemy's terminate): the thread closes and ends."""
        if not self._ending:
            self._ending = True
            self._tx.put((None, self._close))
        if self._holding is not None:  # the thread rolls back as it closes
            lock, self._holding = self._holding, None
            lock.release()


class Cursor:
    """A statement's outcome, fetched in the one trip that executed it."""

    arraysize = 1

    def __init__(self, connection: Connection) -> None:
        self._connection = connection
        self.description: Any = None
        self.rowcount = -1
        self.lastrowid: int | None = None
        self._rows: list[Any] = []

    async def __aenter__(self) -> Cursor:
        return self

    async def __aexit__(self, *_exc: object) -> None:
        await self.close()

    def _took(self, cursor: sqlite3.Cursor, rows: list[Any]) -> None:
        self.description = cursor.description
        self.rowcount = cursor.rowcount
        self.lastrowid = cursor.lastrowid
        self._rows = rows

    async def execute(self, sql: str, parameters: Sequence[Any] | None = None) -> Cursor:
        def run() -> None:
            cursor = self._connection._open_conn().cursor()
            try:
                cursor.execute(sql, () if parameters is None else parameters)
                self._took(cursor, cursor.fetchall() if cursor.description else [])
            finally:
                cursor.close()

        if sql == BEGIN_IMMEDIATE:
            await self._connection.begin(run)
        elif self._connection.inline(sql):
            try:
                run()
            finally:
                self._connection._leave_when_done()  # SQLite may have rolled back
        else:
            await self._connection.run(run)
        return self

    async def executemany(self, sql: str, parameters: Iterable[Sequence[Any]]) -> Cursor:
        def run() -> None:
            cursor = self._connection._open_conn().cursor()
            try:
                cursor.executemany(sql, parameters)
                self._took(cursor, [])
            finally:
                cursor.close()

        await self._connection.run(run)
        return self

    async def fetchall(self) -> list[Any]:
        rows, self._rows = self._rows, []
        return rows

    async def fetchone(self) -> Any:
        return self._rows.pop(0) if self._rows else None

    async def fetchmany(self, size: int | None = None) -> list[Any]:
        n = self.arraysize if size is None else size
        rows, self._rows = self._rows[:n], self._rows[n:]
        return rows

    async def close(self) -> None:
        self._rows = []


def connector(database: str, *, timeout: float) -> Callable[[], Any]:
    """The async creator for `database` (a path, or `:memory:`); its connections share
    one `WriterGate`, which queues them behind the other processes' too."""
    path = writer_file(database)
    gate = WriterGate(timeout, FileGate(path) if path is not None else None)

    async def connect() -> Connection:
        def open_sqlite() -> sqlite3.Connection:
            return sqlite3.connect(
                database, timeout=timeout, isolation_level=None, check_same_thread=False
            )

        return await Connection(open_sqlite, gate).open()

    return connect
