"""Queries of the reminder pass that the case repository does not offer."""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from bot.domain.model import CaseStatus
from storage import tables as t


async def stale_claim_ids(conn: AsyncConnection, cutoff: datetime, limit: int) -> list[int]:
    """Claimed cases untouched since `cutoff` (wall time), oldest first.

    Wall time is at least the working time, so this is a safe pre-filter: the
    caller checks the working time itself. The status index keeps it off the
    closed history.
    """
    rows = await conn.execute(
        sa.select(t.cases.c.id)
        .where(
            t.cases.c.status == CaseStatus.CLAIMED.value,
            t.cases.c.last_progress_at.is_not(None),
            t.cases.c.last_progress_at <= cutoff,
        )
        .order_by(t.cases.c.last_progress_at, t.cases.c.id)
        .limit(limit)
    )
    return [int(r.id) for r in rows]
