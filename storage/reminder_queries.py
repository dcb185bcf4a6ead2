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


async def completions_between(
    conn: AsyncConnection, start: datetime, end: datetime, actions: frozenset[str]
) -> list[tuple[str, str, str, int]]:
    """(team, kind, action, case id) of the given step events in [start, end).

    The time index keeps this to the day's events, whatever the history holds;
    the caller keeps the events that complete each case's kind.
    """
    rows = await conn.execute(
        sa.select(t.cases.c.team_code, t.cases.c.kind, t.case_events.c.action, t.cases.c.id)
        .join(t.cases, t.cases.c.id == t.case_events.c.case_id)
        .where(
            t.case_events.c.at >= start,
            t.case_events.c.at < end,
            t.case_events.c.action.in_(sorted(actions)),
        )
    )
    return [(str(r[0]), str(r[1]), str(r[2]), int(r[3])) for r in rows]


async def outbox_has(conn: AsyncConnection, dedupe_key: str) -> bool:
    """Whether a message with this dedupe key was ever queued (rows are kept)."""
    found = await conn.execute(
        sa.select(t.outbox.c.id).where(t.outbox.c.dedupe_key == dedupe_key).limit(1)
    )
    return found.first() is not None
