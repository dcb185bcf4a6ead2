"""The unit of work's outbox: rows written in the transaction, delivered by the relay
after it commits."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from bot.services.ports import OutboxItem
from storage import tables
from storage.outbox_model import ChatKey, DeliveryState, pending_values
from storage.prepared import skipping_insert
from storage.sqlite_driver import quick
from storage.tables import OUTBOX

#: Dedupe keys looked up in one IN list.
KEYS_PER_QUERY = 500
#: Built once (storage/prepared.py): a command writes one or two rows.
_INSERT = sa.insert(tables.outbox)
quick(_INSERT)


class SqlOutbox:
    """Rows written here are delivered by the relay after the transaction commits."""

    def __init__(self, conn: AsyncConnection, now: datetime) -> None:
        self.conn = conn
        self.now = now
        #: Rows this unit of work inserted: the relay is woken after the commit if any.
        self.added = 0
        #: Their chats: the relay's worker on one of them reads its queue again, unclaimed.
        self.chats: set[ChatKey] = set()

    async def add(self, item: OutboxItem) -> bool:
        values = pending_values(
            item.channel,
            item.chat_id,
            item.payload,
            self.now,
            dedupe_key=item.dedupe_key,
            card_key=item.card_key,
            case_id=item.case_id,
        )
        if item.dedupe_key is None:
            await self.conn.execute(_INSERT, values)
        else:
            # A key queued before, even by a transaction still running, is skipped:
            # the database waits for that one and inserts nothing, raising nothing.
            inserted = await self.conn.execute(skipping_insert(self.conn, tables.outbox), values)
            if inserted.rowcount == 0:
                return False
        self.added += 1
        self.chats.add(ChatKey(item.channel, item.chat_id))
        return True

    async def queued(self, dedupe_keys: Iterable[str]) -> set[str]:
        wanted = sorted(set(dedupe_keys))
        found: set[str] = set()
        for start in range(0, len(wanted), KEYS_PER_QUERY):
            rows = await self.conn.execute(
                sa.select(OUTBOX.dedupe_key).where(
                    OUTBOX.dedupe_key.in_(wanted[start : start + KEYS_PER_QUERY])
                )
            )
            found.update(str(r.dedupe_key) for r in rows)
        return found

    def _waiting_for(self, channel: str, chat_id: str) -> sa.ColumnElement[bool]:
        return sa.and_(
            OUTBOX.channel == channel,
            OUTBOX.chat_id == chat_id,
            OUTBOX.status == DeliveryState.PENDING.value,
        )

    async def waiting(self, channel: str, chat_id: str) -> int:
        query = sa.select(sa.func.count()).select_from(tables.outbox)
        found = await self.conn.execute(query.where(self._waiting_for(channel, chat_id)))
        return int(found.scalar_one())

    async def drop_waiting(self, channel: str, chat_id: str, reason: str) -> int:
        """Messages still waiting for the chat are not sent: superseded, with `reason`."""
        dropped = await self.conn.execute(
            sa.update(tables.outbox)
            .where(self._waiting_for(channel, chat_id))
            .values(status=DeliveryState.SUPERSEDED.value, error=reason, sending_at=None)
        )
        return int(dropped.rowcount)
