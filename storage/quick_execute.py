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

import sqlite3
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection as SyncConnection
from sqlalchemy.engine import Dialect
from sqlalchemy.engine.result import IteratorResult, SimpleResultMetaData
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

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


@dataclass(frozen=True, slots=True)
class _Plan:
    """A quick statement compiled for one dialect and one key set of parameters."""

    compiled: Any
    sql: str
    positions: tuple[str, ...]
    binds: Mapping[str, Callable[[Any], Any]]
    metadata: SimpleResultMetaData
    returns_rows: bool

    def arguments(self, parameters: Mapping[str, Any]) -> tuple[Any, ...]:
        values = self.compiled.construct_params(parameters, escape_names=False)
        binds = self.binds
        return tuple(
            binds[key](values[key]) if key in binds else values[key] for key in self.positions
        )


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
        or len(set(names)) != len(names)
    ):
        return None
    processors = [c.type._cached_result_processor(dialect, None) for c in columns]
    metadata = SimpleResultMetaData(
        names, extra=[c.objects for c in columns], _processors=processors
    )
    return _Plan(
        compiled=compiled,
        sql=compiled.string,
        positions=tuple(compiled.positiontup),
        binds=compiled._bind_processors,
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


class QuickEngine(AsyncEngine):
    """The SQLite engine on our driver: its connections are `QuickConnection`s."""

    __slots__ = ()
    _connection_cls = QuickConnection


def quick_engine(engine: AsyncEngine) -> AsyncEngine:
    return QuickEngine(engine.sync_engine)


__all__: Sequence[str] = ("QuickConnection", "QuickEngine", "quick_engine", "run_here")
