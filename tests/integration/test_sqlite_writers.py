"""SQLite's writers queued across processes (storage/sqlite_writers.py): an engine holds
`<database>-writer` for the length of each write transaction, a second engine (as another
process would) waits for it in a thread instead of SQLite's sleeping busy handler, and a
wait given up lets go of the file once it ends."""

from __future__ import annotations

import asyncio
import fcntl
import gc
import os
import sqlite3
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import pytest
import sqlalchemy as sa

from storage import engine as engine_module
from storage.engine import create_engine
from storage.sqlite_writers import FileGate, writer_file

_T = sa.table("t", sa.column("id", sa.Integer), sa.column("a", sa.String))


@pytest.fixture
async def path(tmp_path: Path) -> AsyncIterator[Path]:
    db = tmp_path / "shared.db"
    engine = create_engine(f"sqlite+aiosqlite:///{db}")
    async with engine.begin() as conn:
        await conn.execute(sa.text("CREATE TABLE t (id INTEGER PRIMARY KEY, a TEXT)"))
    await engine.dispose()
    yield db


def free(lock_file: Path) -> bool:
    """Could a third process take the writers' file now?"""
    fd = os.open(lock_file, os.O_RDWR)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    finally:
        os.close(fd)  # closing lets go of a lock it took
    return True


async def until(probe: Callable[[], bool], what: str) -> None:
    async with asyncio.timeout(10):
        while not probe():  # noqa: ASYNC110 - a thread's flock has no event to wait on
            await asyncio.sleep(0.005)


async def test_a_write_transaction_holds_the_file_and_the_commit_lets_go(path: Path) -> None:
    engine = create_engine(f"sqlite+aiosqlite:///{path}")
    lock_file = Path(f"{path}-writer")
    try:
        async with engine.begin() as conn:
            await conn.execute(sa.insert(_T), {"a": "x"})
            assert os.path.exists(lock_file)  # noqa: ASYNC240 - a test's look
            assert not free(lock_file)
        assert free(lock_file)
        with pytest.raises(sa.exc.IntegrityError):
            async with engine.begin() as conn:
                await conn.execute(sa.insert(_T), {"id": 1, "a": "again"})
        assert free(lock_file)  # a rollback lets go too
    finally:
        await engine.dispose()


async def test_the_second_process_writer_waits_for_the_file_then_writes(path: Path) -> None:
    first, second = (create_engine(f"sqlite+aiosqlite:///{path}") for _ in range(2))
    holding, done = asyncio.Event(), asyncio.Event()

    async def hold() -> None:
        async with first.begin() as conn:
            await conn.execute(sa.insert(_T), {"a": "first"})
            holding.set()
            await done.wait()

    async def write() -> None:
        async with second.begin() as conn:
            await conn.execute(sa.insert(_T), {"a": "second"})

    try:
        holder = asyncio.create_task(hold())
        await holding.wait()
        writer = asyncio.create_task(write())
        await until(lambda: _waiting_threads() > 0, "the second writer to wait in its thread")
        assert not writer.done()
        done.set()
        await asyncio.wait_for(asyncio.gather(holder, writer), 10)
        async with second.connect() as conn:
            names = (await conn.execute(sa.select(_T.c.a).order_by(_T.c.id))).scalars().all()
        assert names == ["first", "second"]
    finally:
        done.set()
        await first.dispose()
        await second.dispose()


async def test_a_wait_given_up_lets_go_of_the_file_when_it_ends(
    path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(engine_module, "BUSY_SECONDS", 0.2)
    first, second = (create_engine(f"sqlite+aiosqlite:///{path}") for _ in range(2))
    lock_file = Path(f"{path}-writer")
    try:
        async with first.begin() as conn:
            await conn.execute(sa.insert(_T), {"a": "first"})
            # As SQLite's own busy timeout fails it (SQLAlchemy does not wrap its begin).
            with pytest.raises(sqlite3.OperationalError, match="database is locked"):
                async with second.begin():
                    pass
            assert _waiting_threads() == 1  # still waiting in its thread
        # The holder let go; the given-up wait takes the file in its thread, then lets go.
        await until(lambda: _waiting_threads() == 0, "the given-up wait to end")
        await until(lambda: free(lock_file), "the file to be free again")
        async with second.begin() as conn:  # and the second engine writes as usual
            await conn.execute(sa.insert(_T), {"a": "second"})
    finally:
        await first.dispose()
        await second.dispose()


async def test_no_file_for_a_database_in_memory_nor_where_it_cannot_be_made(
    tmp_path: Path,
) -> None:
    assert writer_file(":memory:") is None
    assert writer_file(str(tmp_path / "x.db")) == f"{tmp_path / 'x.db'}-writer"
    gate = FileGate(str(tmp_path / "missing-folder" / "x.db-writer"))
    await gate.take(1.0)  # nothing to hold: the writer goes on, SQLite's lock decides
    gate.give_back()


def _waiting_threads() -> int:
    import threading

    return sum(1 for t in threading.enumerate() if t.name == "sqlite-writer")


async def test_the_file_is_closed_with_its_engine(path: Path) -> None:
    """An engine made and dropped (a command, a test) leaves no descriptor open."""

    def open_handles() -> int:
        return _handles_on(Path(f"{path}-writer"))

    before = open_handles()  # the fixture's engine may not be collected yet
    engine = create_engine(f"sqlite+aiosqlite:///{path}")
    async with engine.begin() as conn:
        await conn.execute(sa.insert(_T), {"a": "x"})
    assert open_handles() == before + 1
    await engine.dispose()
    del engine, conn
    gc.collect()
    assert open_handles() == before


def _handles_on(file: Path) -> int:
    """This process's open descriptors of `file`."""
    target = str(file.resolve())
    return sum(1 for fd in os.listdir("/proc/self/fd") if _points_to(fd, target))


def _points_to(fd: str, target: str) -> bool:
    try:
        return os.readlink(f"/proc/self/fd/{fd}") == target
    except OSError:
        return False
