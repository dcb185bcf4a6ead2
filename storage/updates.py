"""Which webhook updates were already processed, so a replay is handled once."""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine

from storage import tables as t


class ProcessedUpdates:
    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine

    async def seen(self, channel: str, update_id: str) -> bool:
        async with self.engine.connect() as conn:
            row = await conn.execute(
                sa.select(t.processed_updates.c.update_id).where(
                    t.processed_updates.c.channel == channel,
                    t.processed_updates.c.update_id == update_id,
                )
            )
            return row.first() is not None

    async def mark(self, channel: str, update_id: str, at: datetime) -> bool:
        """Record the update; False when another request recorded it first."""
        try:
            async with self.engine.begin() as conn:
                await conn.execute(
                    sa.insert(t.processed_updates).values(
                        channel=channel, update_id=update_id, at=at
                    )
                )
        except IntegrityError:
            return False
        return True
