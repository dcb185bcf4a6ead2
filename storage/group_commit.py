"""Group commit for the relay's small writes: those that arrive while one is in flight go
together in the next transaction (issue 16).

Each chat's worker writes a send's start before the call and its result after it, and
waits for each to be committed before it goes on, so a chat's writes stay in order and a
start is always on disk before its send. Workers of different chats write at the same
time; on SQLite they queue for the one writer anyway. Here the first write runs at once
in a transaction of its own; the ones that arrive meanwhile wait for it and then go in one
transaction together, each awaited by its own worker until that commit.

A write must be idempotent (made twice, the same row results), and each touches one
chat's rows. If a transaction of several fails, each is written again alone, so one write
can fail only its own worker. A leader cancelled mid-commit (shutdown) leaves its
followers' writes to the next leader: run again, they change nothing more.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from storage.quick_execute import give_back, lend

#: One write: statements run on the transaction's connection.
Work = Callable[[AsyncConnection], Awaitable[None]]


@dataclass(eq=False)
class _Write:
    work: Work
    #: In order of chats, so two transactions lock rows in one order (PostgreSQL).
    order: tuple[str, str]
    #: True: this write's worker runs the next transaction; False: written.
    turn: asyncio.Future[bool] = field(
        default_factory=lambda: asyncio.get_running_loop().create_future()
    )


class GroupCommit:
    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine
        self._queue: list[_Write] = []
        self._busy = False
        #: Transactions run, and writes in them (for tests and figures).
        self.transactions = 0
        self.writes = 0

    async def write(self, work: Work, order: tuple[str, str]) -> None:
        """Run `work` in a committed transaction, with whatever else is waiting."""
        me = _Write(work, order)
        self._queue.append(me)
        if self._busy:
            try:
                if not await me.turn:
                    return  # written by another worker's transaction
            except asyncio.CancelledError:
                self._leave(me)
                raise
        self._busy = True
        batch, self._queue = self._queue, []
        errors: dict[_Write, BaseException] = {}
        done = False
        try:
            errors = await self._commit(batch)
            done = True
        finally:
            if not done:  # cancelled: the others' writes go with the next transaction
                self._queue[:0] = [w for w in batch if w is not me]
            for w in batch:
                if done and w is not me and not w.turn.done():
                    error = errors.get(w)
                    if error is None:
                        w.turn.set_result(False)
                    else:
                        w.turn.set_exception(error)
            self._pass_turn()
        error = errors.get(me)
        if error is not None:
            raise error

    def _pass_turn(self) -> None:
        for w in self._queue:
            if not w.turn.done():
                w.turn.set_result(True)
                return
        self._queue = [w for w in self._queue if not w.turn.done()]
        self._busy = bool(self._queue)

    def _leave(self, me: _Write) -> None:
        """A waiting worker was cancelled: its write is dropped, or its turn passed on."""
        if me in self._queue:
            self._queue.remove(me)
        turn = me.turn
        if turn.done() and not turn.cancelled() and turn.exception() is None and turn.result():
            self._pass_turn()  # its turn to lead came as it was cancelled

    async def _commit(self, batch: list[_Write]) -> dict[_Write, BaseException]:
        """Write `batch` in one transaction; if that fails, each alone. The errors by write."""
        ordered = sorted(batch, key=lambda w: w.order)
        try:
            await self._run(ordered)
            return {}
        except Exception as e:
            if len(ordered) == 1:
                return {ordered[0]: e}
        errors: dict[_Write, BaseException] = {}
        for w in ordered:
            try:
                await self._run([w])
            except Exception as e:
                errors[w] = e
        return errors

    async def _run(self, writes: list[_Write]) -> None:
        """On SQLite the connection is a parked one (storage/quick_execute.py), as a unit
        of work's: no pool checkout and checkin per transaction."""
        conn = await lend(self.engine)
        try:
            async with conn.begin():
                for w in writes:
                    await w.work(conn)
        finally:
            await give_back(self.engine, conn)  # closed instead if the rollback failed
        self.transactions += 1
        self.writes += len(writes)
