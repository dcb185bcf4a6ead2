"""Waking every instance's relay when outbox rows are committed (PostgreSQL).

In one process the unit of work wakes the relay itself after a commit that wrote outbox
rows. With several instances on one PostgreSQL database, the rows one instance commits
may be for chats another instance's relay holds: the commit also says
`NOTIFY dispatch_outbox` (delivered by PostgreSQL only when, and if, the transaction
commits), and each instance LISTENs on one connection of its own and wakes its relay.
The relay's idle poll stays the fallback: a lost connection costs latency, not posts.
SQLite has one process, so nothing is listened to there.

Each notification names the engine that sent it (a token per engine, so per instance):
an instance ignores its own, as its unit of work has woken its relay already; hearing
them too cost a claim (a transaction) per commit that found nothing. A notification
without a name (an older version) wakes the relay as before.
"""

from __future__ import annotations

import contextlib
import logging
import secrets
import weakref
from collections.abc import Callable
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

log = logging.getLogger(__name__)

#: The PostgreSQL notification channel the outbox's commits are announced on.
OUTBOX_CHANNEL = "dispatch_outbox"


_senders: weakref.WeakKeyDictionary[sa.Engine, str] = weakref.WeakKeyDictionary()

#: Built once: a statement built per commit cost more than the notification itself.
_NOTIFY = sa.select(
    sa.func.pg_notify(
        sa.literal(OUTBOX_CHANNEL, sa.String), sa.bindparam("b_sender", type_=sa.String)
    )
)


def _sender(engine: sa.Engine) -> str:
    """This engine's name in the notifications it sends."""
    name = _senders.get(engine)
    if name is None:
        name = _senders[engine] = secrets.token_hex(8)
    return name


def announces(conn: AsyncConnection) -> bool:
    """Whether commits on this connection are announced to the other instances."""
    return conn.dialect.name == "postgresql"


async def announce(conn: AsyncConnection) -> None:
    """Inside the transaction that wrote outbox rows: tell the others at its commit."""
    await conn.execute(_NOTIFY, {"b_sender": _sender(conn.engine.sync_engine)})


class OutboxListener:
    """LISTENs for `OUTBOX_CHANNEL` and calls `wake` on each notification."""

    def __init__(self, engine: AsyncEngine, wake: Callable[[], None]) -> None:
        self.engine = engine
        self.wake = wake
        self._conn: AsyncConnection | None = None
        self._driver: Any = None

    async def start(self) -> bool:
        """Listen (PostgreSQL only); False when there is nothing to listen to or it failed."""
        if self.engine.dialect.name != "postgresql":
            return False
        try:
            conn = await self.engine.connect()
            raw = await conn.get_raw_connection()
            driver = raw.driver_connection
            assert driver is not None
            await driver.add_listener(OUTBOX_CHANNEL, self._heard)
        except Exception as e:
            log.warning("outbox: cannot listen for other instances' posts (%s); polling", e)
            return False
        self._conn, self._driver = conn, driver
        return True

    def _heard(self, _conn: object, _pid: int, _channel: str, sender: str) -> None:
        if sender != _sender(self.engine.sync_engine):  # our own: our relay is awake
            self.wake()

    async def stop(self) -> None:
        conn, driver, self._conn, self._driver = self._conn, self._driver, None, None
        if conn is None:
            return
        with contextlib.suppress(Exception):
            await driver.remove_listener(OUTBOX_CHANNEL, self._heard)
        with contextlib.suppress(Exception):
            await conn.close()
