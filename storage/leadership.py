"""The scheduler lock on PostgreSQL: a session-level advisory lock (see `bot.leadership`)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Final

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from bot.leadership import AlwaysLead, Leadership

log = logging.getLogger(__name__)

#: The advisory lock's key: "dispatch" in ASCII, a constant every instance agrees on.
SCHEDULER_LOCK_KEY: Final = 0x6469737061746368 & 0x7FFFFFFFFFFFFFFF
#: How long to wait for the database when checking or taking the lock.
CHECK_TIMEOUT: Final = 5.0


class AdvisoryLockLeadership:
    """PostgreSQL: leader is whoever holds `pg_try_advisory_lock(SCHEDULER_LOCK_KEY)`."""

    def __init__(self, engine: AsyncEngine, key: int = SCHEDULER_LOCK_KEY) -> None:
        self.engine = engine
        self.key = key
        self._conn: AsyncConnection | None = None
        self._lock = asyncio.Lock()

    @property
    def leading(self) -> bool:
        return self._conn is not None

    async def check(self) -> bool:
        async with self._lock:
            if self._conn is not None:
                try:
                    async with asyncio.timeout(CHECK_TIMEOUT):
                        await self._conn.execute(sa.text("SELECT 1"))
                        await self._conn.commit()
                    return True
                except Exception:
                    log.warning("scheduler lock lost: its database connection failed")
                    await self._drop()
            try:
                async with asyncio.timeout(CHECK_TIMEOUT):
                    conn = await self.engine.connect()
                    try:
                        got = (
                            await conn.execute(sa.select(sa.func.pg_try_advisory_lock(self.key)))
                        ).scalar()
                        await conn.commit()  # the lock outlives the transaction; don't idle in one
                    except BaseException:
                        await conn.close()
                        raise
            except Exception:
                log.warning("scheduler lock: the database did not answer", exc_info=True)
                return False
            if not got:
                await conn.close()
                return False
            self._conn = conn
            log.info("scheduler lock taken: this instance runs the periodic passes")
            return True

    async def release(self) -> None:
        async with self._lock:
            conn = self._conn
            if conn is None:
                return
            with contextlib.suppress(Exception):
                async with asyncio.timeout(CHECK_TIMEOUT):
                    await conn.execute(sa.select(sa.func.pg_advisory_unlock(self.key)))
                    await conn.commit()
            await self._drop()
            log.info("scheduler lock released")

    async def _drop(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            with contextlib.suppress(Exception):
                await conn.invalidate()
            with contextlib.suppress(Exception):
                await conn.close()


def leadership_for(engine: AsyncEngine) -> Leadership:
    """The advisory lock on PostgreSQL; on SQLite (one instance only) always the leader."""
    if engine.dialect.name == "postgresql":
        return AdvisoryLockLeadership(engine)
    return AlwaysLead()
