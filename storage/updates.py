"""Which webhook updates were already processed, so a replay is handled once.

With several instances behind one webhook URL, Telegram may deliver an update again
while the first delivery is still being handled (it timed out waiting). `begin` claims
the update first: a second delivery meanwhile is told to come back later, a delivery
after the first one finished is a duplicate, and a claim left by a crashed instance is
taken over once it is `stale_after` old.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from enum import StrEnum

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine

from storage import tables
from storage.tables import PROCESSED_UPDATES


class UpdateState(StrEnum):
    PROCESSING = "processing"
    DONE = "done"


class Begin(StrEnum):
    """What to do with a delivered update."""

    PROCESS = "process"  # ours to handle now
    DUPLICATE = "duplicate"  # handled before: answer 200, do nothing
    BUSY = "busy"  # being handled elsewhere: answer non-2xx so it comes back


class ProcessedUpdates:
    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine

    async def begin(
        self, channel: str, update_id: str, at: datetime, stale_after: timedelta
    ) -> Begin:
        """Claim the update before handling it (see the module's docstring)."""
        key = (PROCESSED_UPDATES.channel == channel, PROCESSED_UPDATES.update_id == update_id)
        try:
            async with self.engine.begin() as conn:
                await conn.execute(
                    sa.insert(tables.processed_updates).values(
                        channel=channel,
                        update_id=update_id,
                        at=at,
                        state=UpdateState.PROCESSING.value,
                    )
                )
            return Begin.PROCESS
        except IntegrityError:
            pass
        async with self.engine.begin() as conn:
            row = (
                await conn.execute(
                    sa.select(PROCESSED_UPDATES.state, PROCESSED_UPDATES.at).where(*key)
                )
            ).first()
            if row is None:  # abandoned meanwhile: the next delivery will claim it
                return Begin.BUSY
            if row.state != UpdateState.PROCESSING.value:
                return Begin.DUPLICATE
            if row.at > at - stale_after:
                return Begin.BUSY
            taken = await conn.execute(
                sa.update(tables.processed_updates)
                .where(*key, PROCESSED_UPDATES.at == row.at)
                .values(at=at)
            )
            return Begin.PROCESS if taken.rowcount == 1 else Begin.BUSY

    async def finish(self, channel: str, update_id: str, at: datetime) -> None:
        async with self.engine.begin() as conn:
            await conn.execute(
                sa.update(tables.processed_updates)
                .where(
                    PROCESSED_UPDATES.channel == channel, PROCESSED_UPDATES.update_id == update_id
                )
                .values(state=UpdateState.DONE.value, at=at)
            )

    async def abandon(self, channel: str, update_id: str) -> None:
        """Handling failed: let Telegram's next delivery try again."""
        async with self.engine.begin() as conn:
            await conn.execute(
                sa.delete(tables.processed_updates).where(
                    PROCESSED_UPDATES.channel == channel,
                    PROCESSED_UPDATES.update_id == update_id,
                    PROCESSED_UPDATES.state == UpdateState.PROCESSING.value,
                )
            )
