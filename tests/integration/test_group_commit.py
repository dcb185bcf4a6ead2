"""Group commit of the relay's writes (storage.group_commit), on SQLite and PostgreSQL:
writes that arrive while one is in flight go together, each still fails or is cancelled
alone, and none is lost."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from bot.bootstrap import Container
from storage import tables
from storage.group_commit import GroupCommit, Work

AT = datetime(2026, 1, 1, tzinfo=UTC)


@pytest.fixture
def engine(container: Container) -> AsyncEngine:
    return container.engine


def note(
    name: str, held: asyncio.Event | None = None, entered: asyncio.Event | None = None
) -> Work:
    """A write of one `relay_instances` row; `held`: it waits inside its transaction."""

    async def work(conn: AsyncConnection) -> None:
        await conn.execute(
            sa.insert(tables.relay_instances).values(name=name, started_at=AT, heartbeat_at=AT)
        )
        if entered is not None:
            entered.set()
        if held is not None:
            await asyncio.wait_for(held.wait(), 10)

    return work


async def written(engine: AsyncEngine) -> list[str]:
    async with engine.connect() as conn:
        names = await conn.execute(sa.select(tables.relay_instances.c.name))
        return sorted(names.scalars())


async def until(condition: Callable[[], bool]) -> None:
    """Let the other tasks run until `condition` holds (each needs a few turns of the loop)."""
    for _ in range(10_000):
        if condition():
            return
        await asyncio.sleep(0)
    raise AssertionError("the condition never held")


async def in_flight(writes: GroupCommit) -> tuple[asyncio.Task[None], asyncio.Event]:
    """Write "a" and hold it inside its transaction; the write, and what lets it end."""
    held, entered = asyncio.Event(), asyncio.Event()
    first = asyncio.create_task(writes.write(note("a", held, entered), ("t", "1")))
    await asyncio.wait_for(entered.wait(), 10)
    return first, held


async def test_writes_that_arrive_while_one_is_in_flight_go_in_one_transaction(
    engine: AsyncEngine,
) -> None:
    writes = GroupCommit(engine)
    first, held = await in_flight(writes)
    rest = [asyncio.create_task(writes.write(note(n), ("t", n))) for n in ("b", "c", "d")]
    await until(lambda: len(writes._queue) == 3)
    assert writes.transactions == 0  # they wait while the first is in flight
    held.set()
    await asyncio.wait_for(asyncio.gather(first, *rest), 10)
    assert await written(engine) == ["a", "b", "c", "d"]
    assert (writes.transactions, writes.writes) == (2, 4)
    await writes.write(note("e"), ("t", "e"))  # nothing in flight: at once, alone
    assert (writes.transactions, writes.writes) == (3, 5)


async def test_a_failing_write_fails_only_its_own_caller(engine: AsyncEngine) -> None:
    writes = GroupCommit(engine)
    first, held = await in_flight(writes)

    async def broken(conn: AsyncConnection) -> None:
        await conn.execute(sa.text("SELECT no_such_column FROM relay_instances"))

    bad = asyncio.create_task(writes.write(broken, ("t", "2")))
    good = asyncio.create_task(writes.write(note("c"), ("t", "3")))
    await until(lambda: len(writes._queue) == 2)
    held.set()
    await asyncio.wait_for(first, 10)
    await asyncio.wait_for(good, 10)
    with pytest.raises(sa.exc.DBAPIError):
        await asyncio.wait_for(bad, 10)
    assert await written(engine) == ["a", "c"]


async def test_a_leader_cancelled_mid_commit_leaves_the_others_writes_to_the_next(
    engine: AsyncEngine,
) -> None:
    writes = GroupCommit(engine)
    held_a, entered_a = asyncio.Event(), asyncio.Event()
    held_b, entered_b = asyncio.Event(), asyncio.Event()
    first = asyncio.create_task(writes.write(note("a", held_a, entered_a), ("t", "1")))
    await asyncio.wait_for(entered_a.wait(), 10)
    # b leads the next transaction (c in it) and is cancelled inside it
    leader = asyncio.create_task(writes.write(note("b", held_b, entered_b), ("t", "2")))
    follower = asyncio.create_task(writes.write(note("c"), ("t", "3")))
    await until(lambda: len(writes._queue) == 2)
    held_a.set()
    await asyncio.wait_for(entered_b.wait(), 10)
    leader.cancel()
    await asyncio.wait_for(follower, 10)
    await asyncio.wait_for(first, 10)
    with pytest.raises(asyncio.CancelledError):
        await leader
    assert await written(engine) == ["a", "c"]
    assert not writes._busy


async def test_a_waiting_write_cancelled_is_dropped_and_the_rest_go_on(
    engine: AsyncEngine,
) -> None:
    writes = GroupCommit(engine)
    first, held = await in_flight(writes)
    dropped = asyncio.create_task(writes.write(note("b"), ("t", "2")))
    kept = asyncio.create_task(writes.write(note("c"), ("t", "3")))
    await until(lambda: len(writes._queue) == 2)
    dropped.cancel()
    with pytest.raises(asyncio.CancelledError):
        await dropped
    held.set()
    await asyncio.wait_for(asyncio.gather(first, kept), 10)
    assert await written(engine) == ["a", "c"]
    assert not writes._busy


async def test_on_sqlite_each_transaction_takes_the_parked_connection(
    engine: AsyncEngine,
) -> None:
    """No pool checkout per transaction: one connection serves them all, a failed one's
    rollback included, and nothing stays checked out beyond the parked."""
    from storage.quick_execute import PARKED, QuickEngine

    if not isinstance(engine, QuickEngine):
        pytest.skip("PostgreSQL's connections come from the pool")
    pool: Any = engine.sync_engine.pool
    checkouts: list[object] = []
    sa.event.listen(pool, "checkout", lambda *args: checkouts.append(args[0]))
    writes = GroupCommit(engine)
    await writes.write(note("a"), ("t", "1"))
    with pytest.raises(sa.exc.IntegrityError):
        await writes.write(note("a"), ("t", "1"))  # the same name: refused
    await writes.write(note("b"), ("t", "2"))
    assert len(checkouts) <= 1  # the first, unless one was parked already
    assert pool.checkedout() <= PARKED
    assert await written(engine) == ["a", "b"]
