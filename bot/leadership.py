"""Which instance runs the scheduler's passes: the one holding a database lock.

On PostgreSQL that is a session-level advisory lock, held on a connection kept open for
as long as the instance leads. When the instance dies its connection closes, the server
drops the lock, and the next instance that asks gets it. On SQLite (one instance only)
this instance always leads.

The passes themselves are safe to overlap (every change is a conditional update, every
message has a dedupe key), so a short overlap while a lock changes hands, say after a
network cut, can delay a reminder but never send it twice.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Final, Protocol

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

log = logging.getLogger(__name__)

#: The advisory lock's key: "dispatch" in ASCII, a constant every instance agrees on.
SCHEDULER_LOCK_KEY: Final = 0x6469737061746368 & 0x7FFFFFFFFFFFFFFF
#: How long to wait for the database when checking or taking the lock.
CHECK_TIMEOUT: Final = 5.0


class Leadership(Protocol):
    @property
    def leading(self) -> bool: ...

    async def check(self) -> bool:
        """Keep or try to take the lead; True when this instance leads now."""
        ...

    async def release(self) -> None: ...


class AlwaysLead:
    """One instance (SQLite): nobody to share the scheduler with."""

    leading = True

    async def check(self) -> bool:
        return True

    async def release(self) -> None:
        return None


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
    if engine.dialect.name == "postgresql":
        return AdvisoryLockLeadership(engine)
    return AlwaysLead()
