"""The relay's view of the outbox table: due rows, results, and card message ids."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from storage import tables as t


class DeliveryState(StrEnum):
    PENDING = "pending"
    SENT = "sent"
    FAILED = "failed"
    SUPERSEDED = "superseded"


@dataclass(frozen=True)
class OutboxRow:
    id: int
    channel: str
    chat_id: str
    payload: dict[str, Any]
    card_key: str | None
    case_id: int | None
    attempts: int
    not_before: datetime
    created_at: datetime


class OutboxStore:
    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine

    async def due(self, limit: int = 100) -> list[OutboxRow]:
        """Pending rows in insertion order; the relay keeps per-chat order from it."""
        async with self.engine.connect() as conn:
            rows = await conn.execute(
                sa.select(t.outbox)
                .where(t.outbox.c.status == DeliveryState.PENDING.value)
                .order_by(t.outbox.c.id)
                .limit(limit)
            )
            return [
                OutboxRow(
                    r.id,
                    r.channel,
                    r.chat_id,
                    r.payload,
                    r.card_key,
                    r.case_id,
                    r.attempts,
                    r.not_before,
                    r.created_at,
                )
                for r in rows
            ]

    async def newer_card_pending(self, row: OutboxRow) -> bool:
        """A later edit of the same card is waiting: this one need not be sent."""
        async with self.engine.connect() as conn:
            found = await conn.execute(
                sa.select(t.outbox.c.id)
                .where(
                    t.outbox.c.card_key == row.card_key,
                    t.outbox.c.channel == row.channel,
                    t.outbox.c.chat_id == row.chat_id,
                    t.outbox.c.status == DeliveryState.PENDING.value,
                    t.outbox.c.id > row.id,
                )
                .limit(1)
            )
            return found.first() is not None

    async def card_message(self, card_key: str, channel: str, chat_id: str) -> str | None:
        async with self.engine.connect() as conn:
            return (
                await conn.execute(
                    sa.select(t.chat_messages.c.message_id)
                    .where(
                        t.chat_messages.c.card_key == card_key,
                        t.chat_messages.c.channel == channel,
                        t.chat_messages.c.chat_id == chat_id,
                    )
                    .order_by(t.chat_messages.c.created_at.desc())
                    .limit(1)
                )
            ).scalar()

    async def mark_sent(
        self, row: OutboxRow, message_ids: Sequence[str], at: datetime, *, new_card: bool
    ) -> None:
        async with self.engine.begin() as conn:
            await conn.execute(
                sa.update(t.outbox)
                .where(t.outbox.c.id == row.id)
                .values(
                    status=DeliveryState.SENT.value,
                    sent_at=at,
                    message_id=message_ids[-1] if message_ids else None,
                    attempts=row.attempts + 1,
                )
            )
            if row.case_id is None:
                return
            for i, mid in enumerate(message_ids):
                is_card = new_card and row.card_key is not None and i == len(message_ids) - 1
                await conn.execute(
                    sa.insert(t.chat_messages).values(
                        channel=row.channel,
                        chat_id=row.chat_id,
                        message_id=mid,
                        case_id=row.case_id,
                        card_key=row.card_key if is_card else None,
                        created_at=at,
                    )
                )

    async def mark(self, row: OutboxRow, state: DeliveryState, error: str | None = None) -> None:
        async with self.engine.begin() as conn:
            await conn.execute(
                sa.update(t.outbox)
                .where(t.outbox.c.id == row.id)
                .values(status=state.value, error=error, attempts=row.attempts + 1)
            )

    async def retry(self, row: OutboxRow, not_before: datetime, error: str) -> None:
        async with self.engine.begin() as conn:
            await conn.execute(
                sa.update(t.outbox)
                .where(t.outbox.c.id == row.id)
                .values(not_before=not_before, error=error, attempts=row.attempts + 1)
            )

    async def pending_count(self) -> int:
        async with self.engine.connect() as conn:
            return int(
                (
                    await conn.execute(
                        sa.select(sa.func.count())
                        .select_from(t.outbox)
                        .where(t.outbox.c.status == DeliveryState.PENDING.value)
                    )
                ).scalar_one()
            )
