"""Engine construction (SQLite gets WAL and writer-first transactions), and what differs
between the two databases."""

from __future__ import annotations

from typing import Any, Final

import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine
from sqlalchemy.util import await_

from storage import sqlite_driver
from storage.quick_execute import quick_engine
from storage.sqlite_driver import BEGIN_IMMEDIATE, connector, note_quick

#: How long a SQLite statement waits for another process's write lock.
BUSY_SECONDS: Final = 30
#: Every SQLite connection's settings. WAL lets readers go on beside the one writer.
#: `synchronous=FULL`: a commit is on the disk when it returns. WAL's NORMAL keeps the
#: file whole but may lose the last commits on a power cut, and an intake answered 201
#: must not be lost; FULL costs one flush per commit.
SQLITE_PRAGMAS: Final = (
    "journal_mode=WAL",
    f"busy_timeout={BUSY_SECONDS * 1000}",
    "foreign_keys=ON",
    "synchronous=FULL",
)

#: SQLite connections the pool keeps open. In a rush the lanes' units of work, the
#: relay's shared transactions and its reads hold more than 5 at once: with
#: SQLAlchemy's 5, many went to the overflow, each closed when handed back and opened
#: again later (a thread and the pragmas), and few could be parked
#: (storage/quick_execute.py). An idle one costs a sleeping thread and a little cache.
SQLITE_POOL_SIZE: Final = 10


def is_sqlite(url: str) -> bool:
    return make_url(url).get_backend_name() == "sqlite"


def create_engine(url: str, *, echo: bool = False) -> AsyncEngine:
    """Build the engine for DATABASE_URL.

    SQLite transactions start with BEGIN IMMEDIATE: a deferred transaction that
    reads and then writes can fail at once with "database is locked" when another
    writer got there first, and busy_timeout does not help in that case.
    """
    if not is_sqlite(url):
        return create_async_engine(url, echo=echo, pool_pre_ping=True, hide_parameters=True)
    parsed = make_url(url)
    if parsed.query:  # driver options we do not know: aiosqlite takes them as they are
        engine = create_async_engine(
            url, echo=echo, hide_parameters=True, connect_args={"timeout": BUSY_SECONDS}
        )
    else:
        creator = connector(parsed.database or ":memory:", timeout=BUSY_SECONDS)
        engine = quick_engine(
            create_async_engine(
                url,
                echo=echo,
                hide_parameters=True,
                async_creator=creator,
                pool_size=SQLITE_POOL_SIZE,
            )
        )
        event.listen(engine.sync_engine, "before_cursor_execute", note_quick, retval=True)

    @event.listens_for(engine.sync_engine, "connect")
    def _on_connect(dbapi_conn: Any, _record: Any) -> None:
        dbapi_conn.isolation_level = None
        cur = dbapi_conn.cursor()
        for pragma in SQLITE_PRAGMAS:
            cur.execute(f"PRAGMA {pragma}")
        cur.close()

    @event.listens_for(engine.sync_engine, "begin")
    def _on_begin(conn: Any) -> None:
        # On the driver's cursor: SQLAlchemy's statement machinery costs more than the
        # statement, and every unit of work starts with one.
        fairy = conn.connection
        if isinstance(fairy.driver_connection, sqlite_driver.Connection):
            # Straight to our driver: one switch out of the greenlet, not three.
            try:
                await_(fairy.driver_connection.cursor().execute(BEGIN_IMMEDIATE))
            except Exception as e:  # as the adapter's cursor would raise it
                fairy.dbapi_connection._handle_exception(e)
            return
        cursor = conn.connection.dbapi_connection.cursor()
        try:
            cursor.execute(BEGIN_IMMEDIATE)
        finally:
            cursor.close()

    return engine


def insert_ignoring_duplicates(conn: AsyncConnection, table: sa.Table) -> Any:
    """INSERT … ON CONFLICT DO NOTHING in the connection's dialect."""
    if conn.dialect.name == "postgresql":
        return postgresql.insert(table)
    return sqlite.insert(table)


def driver_message(error: Exception) -> str | None:
    """The database driver's own message of a failed statement, without the statement
    and its parameters (names, addresses); None for an error that is no SQL error."""
    if isinstance(error, sa.exc.StatementError):
        return str(error.orig)
    return None
