"""Quick statements on SQLite without SQLAlchemy's execution machinery.

A quick statement (`storage.sqlite_driver.quick`) inside the connection's write
transaction runs on the event loop's thread in a few µs; SQLAlchemy's way to it (a
greenlet, the compiled cache's lookup, an execution context, bind processing, a cursor
adapter, events, a cursor result) cost about five times the statement. The engine's
connections (`QuickConnection`, storage/engine.py, our SQLite driver only) run such a
statement straight on the sqlite3 connection instead, from SQL compiled once per
statement and key set (`_Plan`), with the same bind and result processing, row keys,
row count and errors. Anything else, or whenever the driver would make the trip, goes
the usual way. PostgreSQL never comes here.

Listeners of `before_cursor_execute` / `after_cursor_execute` still see each statement
(the statement counts of tests/profile_update.py), with no cursor and no context.
"""

from __future__ import annotations

import asyncio
import contextlib
import sqlite3
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final

import sqlalchemy as sa
from sqlalchemy.engine import Connection as SyncConnection
from sqlalchemy.engine import Dialect
from sqlalchemy.engine.result import IteratorResult, SimpleResultMetaData
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine
from sqlalchemy.pool import QueuePool
from sqlalchemy.sql.elements import BindParameter

from storage import sqlite_driver


class QuickResult(IteratorResult[Any]):
    """The rows, and what a DML statement's result says (`rowcount`, `lastrowid`)."""

    def __init__(self, plan: _Plan, rows: list[Any], rowcount: int, lastrowid: int | None):
        super().__init__(plan.metadata, iter(rows))
        self.rowcount = rowcount
        self.lastrowid = lastrowid
        self.returns_rows = plan.returns_rows
        if not plan.returns_rows:
            self._soft_close()


#: Where one position's value comes from: the caller's key, or (not None) the
#: statement's own bound parameter (its fixed value, or its callable's, taken at each
#: call); then the type's bind processor, if it has one.
_Source = tuple[str, BindParameter[Any] | None, Callable[[Any], Any] | None]


@dataclass(frozen=True, slots=True)
class _Plan:
    """A quick statement compiled for one dialect and one key set of parameters."""

    sql: str
    #: Per position: where its value comes from, and the type's bind processor (or None).
    sources: tuple[_Source, ...]
    metadata: SimpleResultMetaData
    returns_rows: bool

    def arguments(self, parameters: Mapping[str, Any]) -> tuple[Any, ...]:
        """The positional values, as `construct_params` then the bind processors give
        them: the sources were resolved once for this key set (`_sources`), so a call
        is a look-up and a conversion per position."""
        out = []
        for key, own, process in self.sources:
            if own is None:
                value = parameters[key]
            else:
                value = own.effective_value if own.callable else own.value
            out.append(value if process is None else process(value))
        return tuple(out)


def _sources(compiled: Any, keys: frozenset[str]) -> tuple[_Source, ...] | None:
    """Resolve each position as `SQLCompiler.construct_params(params, escape_names=False)`
    does for parameters with exactly `keys` (the bind's key first, then its name, else
    its own value); None where that would raise (a required value missing) or where a
    position is not one of the compiled binds."""
    by_name: dict[str, tuple[str, BindParameter[Any] | None]] = {}
    for bind, name in compiled.bind_names.items():
        if bind.key in keys:
            by_name[name] = (bind.key, None)
        elif name in keys:
            by_name[name] = (name, None)
        elif bind.required:
            return None
        else:
            by_name[name] = (name, bind)
    processors = compiled._bind_processors
    if any(name not in by_name for name in compiled.positiontup):
        return None
    return tuple((*by_name[name], processors.get(name)) for name in compiled.positiontup)


#: By (statement's id, dialect's name, parameter names); None: not for this path. The
#: statements are quick ones, kept by sqlite_driver: an id is never reused.
_PLANS: dict[tuple[int, str, frozenset[str]], _Plan | None] = {}


def _plan(dialect: Dialect, statement: Any, keys: frozenset[str]) -> _Plan | None:
    key = (id(statement), dialect.name, keys)
    try:
        return _PLANS[key]
    except KeyError:
        plan = _PLANS[key] = _compile(dialect, statement, keys)
        return plan


def _compile(dialect: Dialect, statement: Any, keys: frozenset[str]) -> _Plan | None:
    """Compile as SQLAlchemy would for `execute(statement, {keys…})`; None for what this
    path does not do (defaults computed in Python, RETURNING added by SQLAlchemy,
    expanding IN, textual columns, the same key twice in a row)."""
    compiled: Any = statement.compile(dialect=dialect, column_keys=sorted(keys))
    columns = compiled._result_columns
    names = [c.keyname for c in columns]
    if (
        not compiled.positional
        or compiled.insert_prefetch
        or compiled.update_prefetch
        or compiled.implicit_returning
        or compiled.literal_execute_params
        or compiled.post_compile_params
        or compiled.schema_translate_map
        or compiled._textual_ordered_columns
        or compiled._ad_hoc_textual
        or compiled.escaped_bind_names
        or getattr(compiled, "_collected_params", None)
        or len(set(names)) != len(names)
    ):
        return None
    sources = _sources(compiled, keys)
    if sources is None:
        return None
    processors = [c.type._cached_result_processor(dialect, None) for c in columns]
    metadata = SimpleResultMetaData(
        names, extra=[c.objects for c in columns], _processors=processors
    )
    return _Plan(
        sql=compiled.string,
        sources=sources,
        metadata=metadata,
        returns_rows=bool(columns),
    )


def run_here(conn: AsyncConnection, statement: Any, parameters: Any) -> QuickResult | None:
    """Run `statement` on the event loop's thread if it is a quick one and the driver may
    run it there now; None: run it the usual way."""
    if not sqlite_driver.is_quick(statement) or not (
        parameters is None or type(parameters) is dict
    ):
        return None
    sync: SyncConnection | None = conn.sync_connection
    if sync is None or not sync.in_transaction():
        return None
    fairy = sync._dbapi_connection
    driver = fairy.driver_connection if fairy is not None else None
    if not isinstance(driver, sqlite_driver.Connection) or not driver.may_run_here():
        return None
    plan = _plan(sync.dialect, statement, frozenset(parameters or ()))
    if plan is None:
        return None
    arguments = plan.arguments(parameters or {})
    events = sync._has_events or sync.engine._has_events
    if events:
        sync.dispatch.before_cursor_execute(sync, None, plan.sql, arguments, None, False)
    try:
        rows, rowcount, lastrowid = driver.execute_here(plan.sql, arguments)
    except sqlite3.Error as e:
        raise sa.exc.DBAPIError.instance(
            plan.sql, arguments, e, sqlite3.Error, hide_parameters=True, dialect=sync.dialect
        ) from e
    if events:
        sync.dispatch.after_cursor_execute(sync, None, plan.sql, arguments, None, False)
    return QuickResult(plan, rows, rowcount, lastrowid)


class QuickConnection(AsyncConnection):
    """An AsyncConnection that runs quick statements on SQLite here (`run_here`)."""

    __slots__ = ()

    async def execute(
        self,
        statement: Any,
        parameters: Any = None,
        *,
        execution_options: Any = None,
    ) -> Any:
        if execution_options is None:
            result = run_here(self, statement, parameters)
            if result is not None:
                return result
        return await super().execute(statement, parameters, execution_options=execution_options)


#: Connections kept open between units of work, per engine (`QuickEngine.give_back`).
PARKED: Final = 4


class QuickEngine(AsyncEngine):
    """The SQLite engine on our driver: its connections are `QuickConnection`s, and a
    unit of work's connection, given back clean, waits here for the next one.

    Checking a connection out of SQLAlchemy's pool and back in (the pool's events, its
    reset, the `Connection` built and torn down, two greenlet switches) cost about 100 µs
    of CPU per transaction, a third of an empty one's. A parked connection stays
    checked out: at most `PARKED`, and only while the pool lends no overflow, so the
    pool's overflow is always there for everyone else.
    """

    __slots__ = ("_parked",)
    _connection_cls = QuickConnection

    def __init__(self, sync_engine: sa.Engine) -> None:
        super().__init__(sync_engine)
        self._parked: list[tuple[asyncio.AbstractEventLoop, AsyncConnection]] = []

    async def lend(self) -> AsyncConnection:
        """A parked connection of this event loop's, else a new one from the pool."""
        loop = asyncio.get_running_loop()
        while self._parked:
            its_loop, conn = self._parked.pop()
            if its_loop is loop and _reusable(conn):
                return conn
            await _drop(conn, its_loop is loop)
        return await self.connect()

    async def give_back(self, conn: AsyncConnection) -> None:
        """Park `conn` if it is open, clean (no transaction) and there is room; else
        close it (back to the pool)."""
        pool = self.sync_engine.pool
        if (
            len(self._parked) < PARKED
            and isinstance(pool, QueuePool)
            and pool.checkedout() <= pool.size()
            and _reusable(conn)
        ):
            self._parked.append((asyncio.get_running_loop(), conn))
            return
        await conn.close()

    async def dispose(self, close: bool = True) -> None:
        parked, self._parked = self._parked, []
        loop = asyncio.get_running_loop()
        for its_loop, conn in parked:
            await _drop(conn, its_loop is loop)
        await super().dispose(close)


def _reusable(conn: AsyncConnection) -> bool:
    """Open, valid, no transaction, on a driver connection that is open."""
    sync = conn.sync_connection
    if sync is None or sync.closed or sync.invalidated or sync.in_transaction():
        return False
    fairy = sync._dbapi_connection
    driver = fairy.driver_connection if fairy is not None else None
    return isinstance(driver, sqlite_driver.Connection) and driver.is_open


async def _drop(conn: AsyncConnection, here: bool) -> None:
    """Close a parked connection; one of another event loop is ended without waiting."""
    with contextlib.suppress(Exception):
        if here:
            await conn.close()
        elif conn.sync_connection is not None:
            conn.sync_connection.invalidate()


async def lend(engine: AsyncEngine) -> AsyncConnection:
    """A connection for a unit of work: a parked one on SQLite (`QuickEngine`)."""
    if isinstance(engine, QuickEngine):
        return await engine.lend()
    return await engine.connect()


async def give_back(engine: AsyncEngine, conn: AsyncConnection) -> None:
    """The end of a unit of work's connection, whose transaction has ended."""
    if isinstance(engine, QuickEngine):
        await engine.give_back(conn)
    else:
        await conn.close()


def quick_engine(engine: AsyncEngine) -> AsyncEngine:
    return QuickEngine(engine.sync_engine)


__all__: Sequence[str] = (
    "QuickConnection",
    "QuickEngine",
    "give_back",
    "lend",
    "quick_engine",
    "run_here",
)
