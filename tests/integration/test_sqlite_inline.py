"""Quick statements on SQLite (storage/sqlite_driver.py): inside a BEGIN IMMEDIATE
transaction they run on the event loop's thread, with the same rows, counts and errors;
everything else, and anything while the connection's thread is busy, makes the trip."""

from __future__ import annotations

import asyncio
import sqlite3
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from storage import engine as engine_module
from storage import sqlite_driver
from storage.engine import BUSY_SECONDS

_T = sa.table("t", sa.column("id", sa.Integer), sa.column("a", sa.String))
_B = sa.bindparam
ADD = sa.insert(_T)
RENAME = sa.update(_T).where(_T.c.a == _B("b_a"))
NAMES = sa.select(_T.c.id, _T.c.a).where(_T.c.id >= _B("b_from")).order_by(_T.c.id)
sqlite_driver.quick(ADD, RENAME, NAMES)
#: The same SELECT, not registered.
SLOW_NAMES = sa.select(_T.c.id, _T.c.a).where(_T.c.id >= _B("b_from")).order_by(_T.c.id)


@pytest.fixture
def engine(sqlite_t: AsyncEngine) -> AsyncEngine:
    return sqlite_t


@pytest.fixture
def trips(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The SQL (or the call's name) of every trip to a connection's thread from now on."""
    made: list[str] = []
    real_run = sqlite_driver.Connection.run
    real_execute = sqlite_driver.Cursor.execute
    current: list[str] = []

    async def execute(self: sqlite_driver.Cursor, sql: str, parameters: Any = None) -> Any:
        current.append(sql.split()[0])
        try:
            return await real_execute(self, sql, parameters)
        finally:
            current.pop()

    async def run(self: sqlite_driver.Connection, call: Callable[[], Any]) -> Any:
        made.append(current[-1] if current else call.__qualname__.split(".")[1])
        return await real_run(self, call)

    monkeypatch.setattr(sqlite_driver.Cursor, "execute", execute)
    monkeypatch.setattr(sqlite_driver.Connection, "run", run)
    return made


async def test_quick_statements_skip_the_trip_in_a_write_transaction(
    engine: AsyncEngine, trips: list[str]
) -> None:
    async with engine.begin() as conn:
        added = await conn.execute(ADD, {"a": "x"})
        await conn.execute(ADD, {"a": "y"})
        renamed = await conn.execute(RENAME, {"a": "x!", "b_a": "x"})
        names = await conn.execute(NAMES, {"b_from": 1})
        assert list(names.keys()) == ["id", "a"]
        rows = names.all()
    assert trips == ["commit"]
    assert added.lastrowid == 1
    assert renamed.rowcount == 1
    assert [tuple(r) for r in rows] == [(1, "x!"), (2, "y")]


async def test_other_statements_and_the_transaction_ends_make_the_trip(
    engine: AsyncEngine, trips: list[str]
) -> None:
    async with engine.begin() as conn:
        await conn.execute(ADD, [{"a": "x"}, {"a": "y"}])  # executemany
        await conn.execute(SLOW_NAMES, {"b_from": 1})
        await conn.execute(sa.text("SELECT a FROM t"))
    assert trips == ["executemany", "SELECT", "SELECT", "commit"]


async def test_errors_of_quick_statements_keep_their_kind(
    engine: AsyncEngine, trips: list[str]
) -> None:
    with pytest.raises(sa.exc.IntegrityError, match="UNIQUE"):
        async with engine.begin() as conn:
            await conn.execute(ADD, {"a": "same"})
            await conn.execute(ADD, {"a": "same"})
    assert trips == []  # BEGIN IMMEDIATE and the rollback too
    async with engine.connect() as conn:
        assert (await conn.execute(sa.text("SELECT count(*) FROM t"))).scalar_one() == 0


async def _busy_ms(conn: AsyncConnection) -> int:
    return int((await conn.exec_driver_sql("PRAGMA busy_timeout")).scalar_one())


async def test_begin_skips_the_trip_and_keeps_the_busy_timeout(
    engine: AsyncEngine, trips: list[str]
) -> None:
    async with engine.begin() as conn:
        assert await _busy_ms(conn) == BUSY_SECONDS * 1000
    assert trips == ["PRAGMA", "commit"]


async def test_begin_waits_by_the_trip_while_another_connection_holds_the_lock(
    engine: AsyncEngine, trips: list[str]
) -> None:
    """Another process's writer (here a plain connection): the loop does not wait in
    SQLite's busy handler, the connection's thread does, and gets the lock once free."""
    path = engine.url.database
    assert path is not None
    holder = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    holder.execute("BEGIN IMMEDIATE")
    try:

        async def write() -> int:
            async with engine.begin() as conn:
                await conn.execute(ADD, {"a": "after the holder"})
                return await _busy_ms(conn)

        writing = asyncio.create_task(write())
        async with asyncio.timeout(10):
            while "BEGIN" not in trips:  # noqa: ASYNC110 - the trip has no event to wait on
                await asyncio.sleep(0.001)
        assert not writing.done()
        holder.rollback()
        assert await asyncio.wait_for(writing, 10) == BUSY_SECONDS * 1000
    finally:
        holder.close()
    assert trips[0] == "BEGIN"
    async with engine.connect() as conn:
        assert (await conn.execute(sa.text("SELECT a FROM t"))).scalars().all() == [
            "after the holder"
        ]


async def test_a_begin_that_never_gets_the_lock_fails_as_before(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """SQLAlchemy does not wrap errors of its "begin" event: the driver's own error."""
    monkeypatch.setattr(engine_module, "BUSY_SECONDS", 0.1)
    monkeypatch.setattr(engine_module, "SQLITE_PRAGMAS", ("journal_mode=WAL", "busy_timeout=100"))
    path = tmp_path / "locked.db"
    eng = engine_module.create_engine(f"sqlite+aiosqlite:///{path}")
    async with eng.connect():  # opened (in WAL) before the lock is taken
        pass
    holder = sqlite3.connect(path, isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")
    try:
        with pytest.raises(sqlite3.OperationalError, match="database is locked"):
            async with eng.begin():
                pass
    finally:
        holder.close()
        await eng.dispose()


async def _connection(path: Path) -> sqlite_driver.Connection:
    conn: sqlite_driver.Connection = await sqlite_driver.connector(str(path), timeout=5)()
    cursor = conn.cursor()
    await cursor.execute("CREATE TABLE t (id INTEGER PRIMARY KEY, a TEXT)")
    return conn


async def test_only_inside_begin_immediate(tmp_path: Path) -> None:
    conn = await _connection(tmp_path / "outside.db")
    sql = "INSERT INTO t (a) VALUES ('x')"
    try:
        conn.quick_next = sql
        assert not conn.inline(sql)  # no transaction
        await conn.cursor().execute("BEGIN")
        conn.quick_next = sql
        assert not conn.inline(sql)  # deferred: may still wait for the write lock
        await conn.rollback()
        await conn.cursor().execute(sqlite_driver.BEGIN_IMMEDIATE)
        conn.quick_next = sql
        assert conn.inline(sql)
        assert not conn.inline(sql)  # the mark is for one statement
        conn.quick_next = "SELECT 1"
        assert not conn.inline(sql)  # the mark is for that statement
        await conn.commit()
        conn.quick_next = sql
        assert not conn.inline(sql)
    finally:
        await conn.close()


async def test_never_while_the_thread_works_for_the_connection(tmp_path: Path) -> None:
    """A task cancelled while its call runs on the thread leaves the thread busy: the
    next quick statement queues behind that call instead of using the connection at once."""
    conn = await _connection(tmp_path / "busy.db")
    started, release = threading.Event(), threading.Event()
    sql = "INSERT INTO t (a) VALUES ('x')"

    def slow() -> None:
        started.set()
        release.wait(10)

    try:
        await conn.cursor().execute(sqlite_driver.BEGIN_IMMEDIATE)
        busy = asyncio.create_task(conn.run(slow))
        assert await asyncio.to_thread(started.wait, 10)
        busy.cancel()
        with pytest.raises(asyncio.CancelledError):
            await busy
        conn.quick_next = sql
        assert not conn.inline(sql)
        conn.quick_next = sql
        insert = asyncio.create_task(conn.cursor().execute(sql))
        release.set()
        assert (await asyncio.wait_for(insert, 10)).rowcount == 1
        await asyncio.wait_for(_idle(conn), 10)
        conn.quick_next = sql
        assert conn.inline(sql)
        await conn.commit()
    finally:
        release.set()
        await conn.close()


async def test_begin_queues_behind_the_threads_work(tmp_path: Path) -> None:
    """BEGIN IMMEDIATE runs on the loop's thread only while the connection's thread has
    nothing queued or running: else it waits its turn there."""
    conn = await _connection(tmp_path / "begin.db")
    started, release = threading.Event(), threading.Event()

    def slow() -> None:
        started.set()
        release.wait(10)

    try:
        busy = asyncio.create_task(conn.run(slow))
        assert await asyncio.to_thread(started.wait, 10)
        sent = conn._tx.sent
        begin = asyncio.create_task(conn.cursor().execute(sqlite_driver.BEGIN_IMMEDIATE))
        async with asyncio.timeout(10):
            while conn._tx.sent == sent:  # noqa: ASYNC110 - the queue has no event to wait on
                await asyncio.sleep(0.001)
        release.set()
        await asyncio.wait_for(asyncio.gather(busy, begin), 10)
        assert conn._conn is not None and conn._conn.in_transaction
        await conn.rollback()
    finally:
        release.set()
        await conn.close()


async def _idle(conn: sqlite_driver.Connection) -> None:
    """Until the thread has counted its last call out (just after it answered)."""
    while not conn._tx.idle:  # noqa: ASYNC110 - the count has no event to wait on
        await asyncio.sleep(0.001)


async def test_a_connection_used_across_threads_is_opened_for_it(tmp_path: Path) -> None:
    conn = await _connection(tmp_path / "threads.db")
    try:
        raw = conn._conn
        assert raw is not None
        await conn.cursor().execute(sqlite_driver.BEGIN_IMMEDIATE)
        raw.execute("INSERT INTO t (a) VALUES ('from the loop')")  # no ProgrammingError
        await conn.commit()
    except sqlite3.ProgrammingError:
        pytest.fail("the connection refuses the event loop's thread")
    finally:
        await conn.close()
