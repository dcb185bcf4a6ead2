"""Quick statements on SQLite skip SQLAlchemy's execution machinery inside a write
transaction (storage/quick_execute.py) with the same rows, keys, types, row counts,
errors and cursor events as the usual way; anything else goes the usual way."""

from __future__ import annotations

import asyncio
import datetime as dt
import threading
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from storage import sqlite_driver
from storage.engine import create_engine

_META = sa.MetaData()
_T = sa.Table(
    "tq",
    _META,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("name", sa.String, unique=True),
    sa.Column("at", sa.DateTime(timezone=True)),
    sa.Column("on", sa.Boolean),
)
_B = sa.bindparam
ADD = sa.insert(_T)
TURN = sa.update(_T).where(_T.c.name == _B("b_name")).values(on=sa.not_(_T.c.on))
ROWS = sa.select(_T.c.id, _T.c.name.label("who"), _T.c.at, _T.c.on).where(_T.c.id >= _B("b_from"))
ONS = sa.select(_T.c.name).where(_T.c.on.is_(True), _T.c.id > 0).order_by(_T.c.id)
sqlite_driver.quick(ADD, TURN, ROWS, ONS)
AT = dt.datetime(2026, 12, 3, 8, 30, tzinfo=dt.UTC)
#: Any execution option sends a statement the usual way.
USUAL: dict[str, Any] = {"execution_options": {}}


@pytest.fixture
async def engine(tmp_path: Path) -> AsyncIterator[AsyncEngine]:
    eng = create_engine(f"sqlite+aiosqlite:///{tmp_path / 'quick.db'}")
    async with eng.begin() as conn:
        await conn.run_sync(_META.create_all)
    yield eng
    await eng.dispose()


def _executed(engine: AsyncEngine) -> tuple[list[str], list[str]]:
    """The statements SQLAlchemy executed (`before_execute`), and every statement sent
    to the database (`before_cursor_execute`), from now on."""
    by_sqlalchemy: list[str] = []
    sent: list[str] = []

    def executed(_conn: Any, statement: Any, *_rest: Any) -> None:
        by_sqlalchemy.append(str(statement).split()[0])

    def cursor(_conn: Any, _cursor: Any, sql: str, *_rest: Any) -> None:
        sent.append(sql.split()[0])

    event.listen(engine.sync_engine, "before_execute", executed)
    event.listen(engine.sync_engine, "before_cursor_execute", cursor)
    return by_sqlalchemy, sent


async def _both(conn: AsyncConnection, statement: Any, params: dict[str, Any]) -> Any:
    """`statement`'s rows, keys and row count, run here, then the usual way."""
    here = await conn.execute(statement, params)
    usual = await conn.execute(statement, params, **USUAL)
    assert type(here) is not type(usual)  # one of each way
    if here.returns_rows:
        assert list(here.keys()) == list(usual.keys())
        assert [tuple(r) for r in here.all()] == [tuple(r) for r in usual.all()]
    else:
        assert here.rowcount == usual.rowcount
    return here


async def test_quick_statements_give_what_sqlalchemy_gives(engine: AsyncEngine) -> None:
    async with engine.begin() as conn:
        added = await conn.execute(ADD, {"name": "an", "at": AT, "on": True})
        await conn.execute(ADD, {"name": "bo", "at": None, "on": False})
        assert added.lastrowid == 1
        await _both(conn, ROWS, {"b_from": 1})
        await _both(conn, ONS, {})
        row = (await conn.execute(ROWS, {"b_from": 1})).first()
        assert row is not None
        assert (row.id, row.who, row.at, row.on) == (1, "an", AT.replace(tzinfo=None), True)
        assert row._mapping[_T.c.id] == 1  # by the column, as a cursor result's row
        turned = await conn.execute(TURN, {"b_name": "bo"})
        assert turned.rowcount == 1
        missed = await conn.execute(TURN, {"b_name": "nobody"})
        assert missed.rowcount == 0
        assert (await conn.execute(ONS, {})).scalars().all() == ["an", "bo"]


async def test_they_skip_sqlalchemys_execution_but_not_the_cursor_events(
    engine: AsyncEngine,
) -> None:
    by_sqlalchemy, sent = _executed(engine)
    async with engine.begin() as conn:
        await conn.execute(ADD, {"name": "an", "at": AT, "on": True})
        await conn.execute(ROWS, {"b_from": 1})
        await conn.execute(ONS, **USUAL)
        await conn.execute(sa.select(_T.c.name))  # not quick
        await conn.execute(ADD, [{"name": "x", "at": AT, "on": True}])  # executemany
    assert by_sqlalchemy == ["SELECT", "SELECT", "INSERT"]
    assert sent == ["INSERT", "SELECT", "SELECT", "SELECT", "INSERT"]


async def test_while_the_thread_is_busy_they_go_the_usual_way(engine: AsyncEngine) -> None:
    by_sqlalchemy, _sent = _executed(engine)
    started, release = threading.Event(), threading.Event()

    def slow() -> None:
        started.set()
        release.wait(10)

    try:
        async with engine.begin() as conn:
            driver = (await conn.get_raw_connection()).driver_connection
            busy = asyncio.create_task(driver.run(slow))
            assert await asyncio.to_thread(started.wait, 10)
            reading = asyncio.create_task(conn.execute(ROWS, {"b_from": 1}))
            async with asyncio.timeout(10):
                while not by_sqlalchemy:  # noqa: ASYNC110 - the event has nothing to await
                    await asyncio.sleep(0.001)
            release.set()
            await asyncio.wait_for(asyncio.gather(busy, reading), 10)
    finally:
        release.set()
    assert by_sqlalchemy == ["SELECT"]


async def test_their_errors_keep_their_kind(engine: AsyncEngine) -> None:
    with pytest.raises(sa.exc.IntegrityError, match="UNIQUE") as raised:
        async with engine.begin() as conn:
            await conn.execute(ADD, {"name": "same", "at": AT, "on": True})
            await conn.execute(ADD, {"name": "same", "at": AT, "on": True})
    assert "same" not in str(raised.value)  # parameters hidden, as the engine's
    async with engine.connect() as conn:
        assert (await conn.execute(sa.select(sa.func.count()).select_from(_T))).scalar() == 0


#: A statement with a bound value of its own and one computed at each call.
_STAMP = iter(range(1_000, 2_000))
MARK = (
    sa.update(_T)
    .where(_T.c.name == _B("b_name"), _T.c.id > _B("b_floor", 0))
    .values(on=_B("b_on", True), id=_B("b_id", callable_=lambda: next(_STAMP)))
)
sqlite_driver.quick(MARK)


def test_positions_are_resolved_as_construct_params_resolves_them(engine: AsyncEngine) -> None:
    """The plan resolves each position once per key set (storage/quick_execute.py): a
    caller's key, else the statement's own value or callable, then the type's bind
    processor; the same values as SQLAlchemy's `construct_params` and processors."""
    from storage.quick_execute import _plan

    dialect = engine.sync_engine.dialect
    cases: list[tuple[Any, dict[str, Any]]] = [
        (ADD, {"name": "an", "at": AT, "on": True}),
        (ADD, {"name": "bo", "at": None, "on": None}),
        (TURN, {"b_name": "an"}),
        (ROWS, {"b_from": 3}),
        (ONS, {}),
        (MARK, {"b_name": "an"}),
        (MARK, {"b_name": "an", "b_floor": 7, "b_on": False}),
    ]
    for statement, params in cases:
        plan = _plan(dialect, statement, frozenset(params))
        assert plan is not None, statement
        compiled: Any = statement.compile(dialect=dialect, column_keys=sorted(params))
        values = compiled.construct_params(params, escape_names=False)
        binds = compiled._bind_processors
        expected = [
            binds[k](values[k]) if binds.get(k) is not None else values[k]
            for k in compiled.positiontup
        ]
        got = list(plan.arguments(params))
        if statement is MARK:  # the callable gives the next number at each call
            at = list(compiled.positiontup).index("b_id")
            assert got[at] == expected[at] + 1
            got[at] = expected[at]
        assert got == expected, statement


def test_a_required_value_missing_goes_the_usual_way_and_fails(engine: AsyncEngine) -> None:
    from storage.quick_execute import _plan

    assert _plan(engine.sync_engine.dialect, TURN, frozenset()) is None


def _driver(conn: AsyncConnection) -> Any:
    sync = conn.sync_connection
    assert sync is not None and sync._dbapi_connection is not None
    return sync._dbapi_connection.driver_connection


async def test_a_unit_of_works_connection_waits_for_the_next_one(engine: AsyncEngine) -> None:
    """Given back clean, a connection stays checked out for the next unit of work (no
    pool round trip); a failed unit of work's rollback is done before it is kept."""
    from bot.domain.clock import SystemClock
    from storage.uow import SqlUnitOfWork

    pool: Any = engine.sync_engine.pool
    async with SqlUnitOfWork(engine, SystemClock()) as uow:
        first = _driver(uow.connection)
        await uow.connection.execute(ADD, {"name": "kept", "at": AT, "on": True})
        await uow.commit()
    assert pool.checkedout() == 1  # parked, not back in the pool
    with pytest.raises(RuntimeError):
        async with SqlUnitOfWork(engine, SystemClock()) as uow:
            assert _driver(uow.connection) is first
            await uow.connection.execute(ADD, {"name": "lost", "at": AT, "on": True})
            raise RuntimeError("the command failed")
    async with SqlUnitOfWork(engine, SystemClock()) as uow:
        assert _driver(uow.connection) is first
        names = (await uow.connection.execute(sa.select(_T.c.name))).scalars().all()
        assert names == ["kept"]
    await engine.dispose()
    assert pool.checkedout() == 0
    assert not first.is_open  # closed by dispose, not left to the collector


async def test_only_clean_connections_are_kept_and_only_a_few(engine: AsyncEngine) -> None:
    from storage.quick_execute import PARKED, QuickEngine

    assert isinstance(engine, QuickEngine)
    pool: Any = engine.sync_engine.pool
    busy = await engine.lend()
    await busy.begin()
    await engine.give_back(busy)  # a transaction open: closed, back to the pool
    assert busy.closed and pool.checkedout() == 0
    many = [await engine.lend() for _ in range(pool.size() + 2)]  # into the overflow
    for conn in many:
        await engine.give_back(conn)
    assert pool.checkedout() == PARKED
    assert sum(conn.closed for conn in many) == len(many) - PARKED
    assert many[0].closed and many[1].closed  # given back while the overflow was lent
