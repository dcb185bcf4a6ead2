"""What the relay learns when a send's answer comes after it stopped waiting (bot.late_sends).

The platform may post a message and answer late; by then the relay has retried, or will.
If the message is still waiting untouched, the late answer *is* its delivery: it is
recorded as sent and never posted again. Otherwise the late post is an extra copy: its
ids are kept with the case (a reply or a button press on it acts on the case), and a
card's extra copy under the card's key plus `EXTRA`, so later edits reach it too.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from storage import tables
from storage.outbox_model import ChatKey, DeliveryState
from storage.quick_execute import give_back, lend
from storage.relay_sql import remember_posted
from storage.tables import OUTBOX

#: Appended to a card's key for a copy of it posted by a send that answered late.
EXTRA = "#late"


class LateOutcome(StrEnum):
    #: The message was still waiting: the late post is its delivery, nothing is repeated.
    DELIVERED = "delivered"
    #: It had been sent again meanwhile: the late post is an extra copy, now known.
    EXTRA_COPY = "extra_copy"
    #: The row is gone (purged): nothing to record.
    UNKNOWN = "unknown"


@dataclass(frozen=True)
class InFlight:
    """The message a chat's sender was waiting on when its wait ended."""

    row_id: int
    parts_sent: int
    payload: dict[str, Any]


def _extra_copies() -> sa.Select[tuple[str]]:
    shown = tables.chat_messages.alias("shown")
    copy = tables.chat_messages.alias("copy")
    return (
        sa.select(copy.c.message_id)
        .join(
            shown,
            sa.and_(
                copy.c.card_key == shown.c.card_key + EXTRA,
                copy.c.channel == shown.c.channel,
                copy.c.chat_id == shown.c.chat_id,
            ),
        )
        .where(
            shown.c.channel == sa.bindparam("b_channel"),
            shown.c.chat_id == sa.bindparam("b_chat_id"),
            shown.c.message_id == sa.bindparam("b_mid"),
        )
        .order_by(copy.c.created_at, copy.c.message_id)
    )


#: The late copies of the card shown by :b_mid in the chat (see `extra_copies`), built
#: once as every card edit asks (storage.relay_sql).
_EXTRA_COPIES = _extra_copies()


class LateStore:
    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine

    async def in_flight(self, key: ChatKey) -> InFlight | None:
        """The chat's message whose send is under way (its start is written before the
        call, and one sender holds a chat at a time)."""
        async with self.engine.connect() as conn:
            row = (
                await conn.execute(
                    sa.select(OUTBOX.id, OUTBOX.parts_sent, OUTBOX.payload)
                    .where(
                        OUTBOX.channel == key.channel,
                        OUTBOX.chat_id == key.chat_id,
                        OUTBOX.status == DeliveryState.PENDING.value,
                        OUTBOX.sending_at.is_not(None),
                    )
                    .order_by(OUTBOX.id)
                    .limit(1)
                )
            ).first()
        return InFlight(row.id, row.parts_sent, row.payload) if row is not None else None

    async def arrived(
        self, flight: InFlight, message_ids: Sequence[str], at: datetime, *, last: bool
    ) -> LateOutcome:
        """Record a late post of `flight`'s part (`last`: the message's last part)."""
        async with self.engine.begin() as conn:
            row = (
                await conn.execute(
                    sa.select(
                        OUTBOX.channel, OUTBOX.chat_id, OUTBOX.case_id, OUTBOX.card_key
                    ).where(OUTBOX.id == flight.row_id)
                )
            ).first()
            if row is None:
                return LateOutcome.UNKNOWN
            values: dict[str, Any] = {"parts_sent": flight.parts_sent + 1}
            if message_ids:
                values["message_id"] = message_ids[-1]
            if last:
                values.update(status=DeliveryState.SENT.value, sent_at=at)
            still_waiting = await conn.execute(
                sa.update(tables.outbox)
                .where(
                    OUTBOX.id == flight.row_id,
                    OUTBOX.status == DeliveryState.PENDING.value,
                    OUTBOX.sending_at.is_(None),
                    OUTBOX.parts_sent == flight.parts_sent,
                )
                .values(**values)
            )
            delivered = bool(still_waiting.rowcount)
            card = row.card_key if last else None
            if card is not None and not delivered:
                card += EXTRA
            await remember_posted(conn, row, message_ids, card, at)
        return LateOutcome.DELIVERED if delivered else LateOutcome.EXTRA_COPY

    async def extra_copies(self, key: ChatKey, message_id: str) -> list[str]:
        """The late copies of the card shown by `message_id`, to edit alongside it (none
        when `message_id` is itself a copy: its key plus `EXTRA` names nothing). One
        statement: every card edit asks, and almost every answer is none."""
        conn = await lend(self.engine)  # on SQLite a parked one: no pool round trip
        try:
            found = await conn.execute(
                _EXTRA_COPIES,
                {"b_channel": key.channel, "b_chat_id": key.chat_id, "b_mid": message_id},
            )
            copies = [str(m) for m in found.scalars()]
            await conn.rollback()  # the read's own: the connection goes back clean
        finally:
            await give_back(self.engine, conn)
        return copies
