"""The SQLite connection behind the engine (storage/sqlite_driver.py): what SQLAlchemy
reads back is right, errors keep their kind, a statement costs one trip to the thread,
and the write lock still queues writers, in the event loop first."""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from storage import sqlite_driver


@pytest.fixture
def engine(sqlite_t: AsyncEngine) -> AsyncEngine:
    return sqlite_t


@pytest.fixture
def trips(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The name of every call made on a connection's thread from now on."""
    made: list[str] = []
    real = sqlite_driver.Connection.run

    async def run(self: sqlite_driver.Connection, call: Callable[[], Any]) -> Any:
        made.append(getattr(call, "__qualname__", repr(call)))
        return await real(self, call)

    monkeypatch.setattr(sqlite_driver.Connection, "run", run)
    return made


async def test_the_engine_uses_this_driver(engine: AsyncEngine) -> None:
    async with engine.connect() as conn:
        raw = await conn.get_raw_connection()
        assert isinstance(raw.driver_connection, sqlite_driver.Connection)


async def test_rows_counts_and_ids_come_back(engine: AsyncEngine) -> None:
    async with engine.begin() as conn:
        first = await conn.execute(sa.text("INSERT INTO t (a) VALUES ('x')"))
        assert first.lastrowid == 1
        await conn.execute(sa.text("INSERT INTO t (a) VALUES (:a)"), [{"a": "y"}, {"a": "z"}])
        changed = await conn.execute(sa.text("UPDATE t SET a = a || '!' WHERE id > 1"))
        assert changed.rowcount == 2
    async with engine.connect() as conn:
        rows = (await conn.execute(sa.text("SELECT id, a FROM t ORDER BY id"))).all()
        assert [tuple(r) for r in rows] == [(1, "x"), (2, "y!"), (3, "z!")]
        one = await conn.execute(sa.text("SELECT a FROM t WHERE id = 2"))
        assert one.keys() == ["a"] and one.scalar_one() == "y!"
        assert (await conn.execute(sa.text("SELECT a FROM t WHERE id = 9"))).first() is None


async def test_errors_keep_their_kind_and_the_transaction_rolls_back(engine: AsyncEngine) -> None:
    with pytest.raises(sa.exc.IntegrityError):
        async with engine.begin() as conn:
            await conn.execute(sa.text("INSERT INTO t (a) VALUES ('same')"))
            await conn.execute(sa.text("INSERT INTO t (a) VALUES ('same')"))
    with pytest.raises(sa.exc.OperationalError):
        async with engine.connect() as conn:
            await conn.execute(sa.text("SELECT nothing FROM nowhere"))
    async with engine.connect() as conn:
        assert (await conn.execute(sa.text("SELECT count(*) FROM t"))).scalar_one() == 0


async def test_a_statement_is_one_trip_and_a_committed_connection_none_more(
    engine: AsyncEngine, trips: list[str]
) -> None:
    async with engine.begin() as conn:
        await conn.execute(sa.text("INSERT INTO t (a) VALUES ('x')"))
        await conn.execute(sa.text("SELECT a FROM t"))
    # The insert, the select, the commit (BEGIN IMMEDIATE ran on the loop's thread: the
    # lock was free); handing the connection back to the pool (a rollback of nothing)
    # costs no trip.
    assert len(trips) == 3, trips


async def test_an_open_transaction_handed_back_is_rolled_back(engine: AsyncEngine) -> None:
    async with engine.connect() as conn:
        await conn.execute(sa.text("INSERT INTO t (a) VALUES ('left open')"))
    async with engine.connect() as conn:
        assert (await conn.execute(sa.text("SELECT count(*) FROM t"))).scalar_one() == 0


async def _insert(
    engine: AsyncEngine,
    a: str,
    holding: asyncio.Event | None = None,
    release: asyncio.Event | None = None,
) -> None:
    """Insert `a`; with `holding`, say so and keep the transaction open until `release`."""
    async with engine.begin() as conn:
        await conn.execute(sa.text("INSERT INTO t (a) VALUES (:a)"), {"a": a})
        if holding is not None and release is not None:
            holding.set()
            await release.wait()


async def test_writers_queue_on_the_write_lock(engine: AsyncEngine) -> None:
    holding, release = asyncio.Event(), asyncio.Event()

    async def second() -> None:
        await holding.wait()
        await _insert(engine, "second")

    one = asyncio.create_task(_insert(engine, "first", holding, release))
    two = asyncio.create_task(second())
    await asyncio.wait_for(holding.wait(), 10)
    done, _ = await asyncio.wait({two}, timeout=0.3)
    assert not done, "the second writer went on while the first held the lock"
    release.set()
    await asyncio.wait_for(asyncio.gather(one, two), 20)
    async with engine.connect() as conn:
        rows = (await conn.execute(sa.text("SELECT a FROM t ORDER BY id"))).scalars().all()
    assert rows == ["first", "second"]


async def test_a_waiting_writer_waits_in_the_loop_not_in_sqlite(
    engine: AsyncEngine, trips: list[str]
) -> None:
    """SQLite's busy handler sleeps up to 100 ms between tries: a writer of this engine
    waits for the one before at the gate instead, and begins the moment it ends."""
    holding, release = asyncio.Event(), asyncio.Event()
    async with engine.connect() as probe, engine.connect() as other:  # both pooled
        await other.execute(sa.text("SELECT 1"))
        gate = (await probe.get_raw_connection()).driver_connection._gate
    assert gate is not None

    one = asyncio.create_task(_insert(engine, "first", holding, release))
    await asyncio.wait_for(holding.wait(), 10)
    trips.clear()
    two = asyncio.create_task(_insert(engine, "second"))
    async with asyncio.timeout(10):
        while gate.queued != 1:  # noqa: ASYNC110 - the gate has no event to wait on
            await asyncio.sleep(0.001)
    assert trips == []  # no BEGIN sent to SQLite while the first holds the lock
    release.set()
    await asyncio.wait_for(asyncio.gather(one, two), 20)
    assert gate.queued == 0


async def test_the_gate_waits_as_long_as_sqlite_would(tmp_path: Path) -> None:
    connect = sqlite_driver.connector(str(tmp_path / "gate.db"), timeout=0.2)
    one, two = await connect(), await connect()
    try:
        await one.cursor().execute(sqlite_driver.BEGIN_IMMEDIATE)
        with pytest.raises(sqlite3.OperationalError, match="database is locked"):
            await two.cursor().execute(sqlite_driver.BEGIN_IMMEDIATE)
        await one.commit()
        await two.cursor().execute(sqlite_driver.BEGIN_IMMEDIATE)  # let in at once now
        await two.rollback()
        await one.cursor().execute(sqlite_driver.BEGIN_IMMEDIATE)
        await one.close()  # closing with the transaction open lets the next one in
        await two.cursor().execute(sqlite_driver.BEGIN_IMMEDIATE)
        await two.commit()
    finally:
        await one.close()
        await two.close()


async def test_commits_are_flushed(engine: AsyncEngine) -> None:
    async with engine.connect() as conn:
        level = (await conn.execute(sa.text("PRAGMA synchronous"))).scalar_one()
        mode = (await conn.execute(sa.text("PRAGMA journal_mode"))).scalar_one()
    assert (level, mode) == (2, "wal")  # 2 = FULL


async def test_a_closed_connection_says_so(tmp_path: Path) -> None:
    def open_db() -> sqlite3.Connection:
        return sqlite3.connect(tmp_path / "closed.db", isolation_level=None)

    conn = await sqlite_driver.Connection(open_db).open()
    await conn.close()
    with pytest.raises(ValueError, match="no active connection"):
        await conn.cursor().execute("SELECT 1")
    assert await _ended(conn)


async def test_stop_ends_the_thread_without_waiting(tmp_path: Path) -> None:
    def open_db() -> sqlite3.Connection:
        return sqlite3.connect(tmp_path / "stopped.db", isolation_level=None)

    conn = await sqlite_driver.Connection(open_db).open()
    conn.stop()
    assert await _ended(conn)


async def _ended(conn: sqlite_driver.Connection) -> bool:
    await asyncio.to_thread(conn._thread.join, 10)
    return not conn._thread.is_alive()
